//! Timestamp formats the wire uses: ISO-8601 UTC for session fields and
//! `X-Refresh-Token-Expires-At`, IMF-fixdate for the `Date` header.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `2026-11-22T10:53:39Z`
pub(crate) fn iso8601(unix: i64) -> String {
    at(unix).format(&Rfc3339).unwrap_or_default()
}

/// `Sun, 22 Nov 2026 10:53:39 GMT`
pub(crate) fn http_date(unix: i64) -> String {
    let format = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    at(unix).format(&format).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_match_the_wire() {
        assert_eq!(iso8601(784_111_777), "1994-11-06T08:49:37Z");
        assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
    }
}
