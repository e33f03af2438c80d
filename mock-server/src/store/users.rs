//! Users: creation, lookup by id, email or OTP identifier, password checks, blocking.

use super::views::UserView;
use super::{Store, new_id, normalise_email};
use crate::Secret;
use crate::http::api_error::Reason;
use crate::jose::random_token;

#[derive(Debug)]
pub(super) struct User {
    pub(super) view: UserView,
    pub(super) password: Secret,
}

impl Store {
    pub(crate) fn create_user(
        &mut self,
        email: &str,
        password: &str,
        phone_number: Option<String>,
    ) -> Result<UserView, Reason> {
        let key = normalise_email(email);
        if key.is_empty() || !key.contains('@') {
            return Err(Reason::InvalidIdentifier);
        }
        if self.email_index.contains_key(&key) {
            return Err(Reason::UserExists);
        }
        let view = UserView {
            id: new_id("usr"),
            email: key.clone(),
            phone_number,
            blocked: false,
        };
        self.email_index.insert(key, view.id.clone());
        self.users.insert(
            view.id.clone(),
            User {
                view: view.clone(),
                password: Secret::new(password),
            },
        );
        Ok(view)
    }

    pub(crate) fn users(&self) -> Vec<UserView> {
        let mut users: Vec<UserView> = self.users.values().map(|u| u.view.clone()).collect();
        users.sort_by(|a, b| a.email.cmp(&b.email));
        users
    }

    pub(crate) fn user(&self, id: &str) -> Option<UserView> {
        self.users.get(id).map(|u| u.view.clone())
    }

    pub(crate) fn user_by_email(&self, email: &str) -> Option<UserView> {
        let id = self.email_index.get(&normalise_email(email))?;
        self.user(id)
    }

    /// Finds the user for an OTP identifier, creating one on first use (OTP login signs up).
    pub(crate) fn user_for_identifier(
        &mut self,
        kind: &str,
        value: &str,
    ) -> Result<String, Reason> {
        let value = value.trim();
        match kind {
            "email_address" => match self.user_by_email(value) {
                Some(user) => Ok(user.id),
                None => Ok(self.create_user(value, &random_token(16), None)?.id),
            },
            "phone_number" => {
                let digits = value.strip_prefix('+').unwrap_or(value);
                if digits.len() < 6 || !digits.chars().all(|c| c.is_ascii_digit()) {
                    return Err(Reason::InvalidIdentifier);
                }
                if let Some(user) = self
                    .users
                    .values()
                    .find(|u| u.view.phone_number.as_deref() == Some(value))
                {
                    return Ok(user.view.id.clone());
                }
                let email = format!("{digits}@phone.invalid");
                Ok(self
                    .create_user(&email, &random_token(16), Some(value.into()))?
                    .id)
            }
            _ => Err(Reason::InvalidIdentifier),
        }
    }

    pub(crate) fn check_password(&self, email: &str, password: &str) -> Result<String, Reason> {
        let id = self
            .email_index
            .get(&normalise_email(email))
            .ok_or(Reason::InvalidCredentials)?;
        let user = self.users.get(id).ok_or(Reason::InvalidCredentials)?;
        let same = aws_lc_rs::constant_time::verify_slices_are_equal(
            user.password.expose().as_bytes(),
            password.as_bytes(),
        );
        if same.is_err() {
            return Err(Reason::InvalidCredentials);
        }
        if user.view.blocked {
            return Err(Reason::UserBlocked);
        }
        Ok(id.clone())
    }

    pub(crate) fn block_user(&mut self, id: &str) -> Result<(), Reason> {
        let user = self.users.get_mut(id).ok_or(Reason::NotFound)?;
        user.view.blocked = true;
        Ok(())
    }
}
