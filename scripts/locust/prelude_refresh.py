"""Locust workload: Prelude refresh-token rotation with DPoP (RFC 9449, ES256).

Each simulated user creates an account and a login challenge through the server's control
API (`/__mock`, the mock's or any server offering it), finalizes the login with a P-256 key of
its own, then refreshes back to back: every refresh carries a fresh DPoP proof signed with the
`cryptography` package and the refresh token the previous answer rotated in. Rejections (a
reused token gets 401, a forged proof 400 `invalid_dpop_proof`, 5xx, ...) are Locust failures.
When the run ends, the master reads the server's stats and fails the run (exit code 1) if the
server detected any refresh-token reuse.

Environment:
  PRELUDE_CONTROL_TOKEN   bearer token for the control API, if the server requires one

Distributed (one master, any number of workers, on one host or many):
  locust -f prelude_refresh.py --master --headless -u 200 -r 50 -t 60s --host http://SERVER:8910 --expect-workers 4
  locust -f prelude_refresh.py --worker --master-host MASTER_HOST        # on each load host
"""

import base64
import json
import os
import time
import uuid

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from locust import HttpUser, constant, events, task
from locust.runners import MasterRunner, WorkerRunner

API = "/v1/session"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(value: dict) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


class DpopKey:
    """A P-256 key and the DPoP proofs it signs."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        numbers = self.key.public_key().public_numbers()
        self.jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64(numbers.x.to_bytes(32, "big")),
            "y": b64(numbers.y.to_bytes(32, "big")),
        }

    def proof(self, method: str, url: str, nonce: str | None = None) -> str:
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk}
        claims = {"jti": uuid.uuid4().hex, "htm": method, "htu": url, "iat": int(time.time())}
        if nonce:
            claims["nonce"] = nonce
        signing_input = f"{b64(compact(header))}.{b64(compact(claims))}"
        r, s = decode_dss_signature(self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def control_headers() -> dict:
    token = os.environ.get("PRELUDE_CONTROL_TOKEN")
    return {"authorization": f"Bearer {token}"} if token else {}


class PreludeRefreshUser(HttpUser):
    """Logs in once, then rotates its refresh token as fast as the server answers."""

    wait_time = constant(0)

    def on_start(self) -> None:
        self.key = DpopKey()
        self.nonce = None
        self.refresh_token = None
        email = f"locust-{uuid.uuid4().hex[:16]}@example.com"
        self.client.post("/__mock/users", json={"email": email, "password": "pw"},
                         headers=control_headers(), name="control: create user")
        challenge = self.client.post("/__mock/challenges", json={"email": email},
                                     headers=control_headers(), name="control: challenge")
        body = {"challenge_token": challenge.json()["challenge_token"]}
        answer = self.send("/login/finalize", "login/finalize", body=body)
        if answer is not None:
            self.refresh_token = answer

    def url(self, path: str) -> str:
        return f"{self.host.rstrip('/')}{API}{path}"

    def send(self, path: str, name: str, body: dict | None = None) -> str | None:
        """POSTs with a fresh proof (once more with the server's nonce if it asks for one);
        returns the rotated refresh token, or None after reporting the failure."""
        for _attempt in range(2):
            headers = {"DPoP": self.key.proof("POST", self.url(path), self.nonce)}
            if self.refresh_token and body is None:
                headers["X-Refresh-Token"] = self.refresh_token
            with self.client.post(API + path, json=body, headers=headers, name=name,
                                  catch_response=True) as response:
                self.nonce = response.headers.get("DPoP-Nonce", self.nonce)
                code = None
                try:
                    code = response.json().get("code")
                except ValueError:
                    pass
                if code == "use_dpop_nonce" and _attempt == 0:
                    response.success()  # the retry carries the nonce; not a failure
                    continue
                rotated = response.headers.get("X-Refresh-Token")
                if response.status_code == 200 and rotated:
                    response.success()
                    return rotated
                response.failure(f"{response.status_code} {code or 'no code'}")
                return None
        return None

    @task
    def refresh(self) -> None:
        if self.refresh_token is None:
            # A rejected session cannot go on; stop this user rather than spin on failures.
            self.stop()
            return
        self.refresh_token = self.send("/refresh", "refresh")


@events.quitting.add_listener
def check_reuse(environment, **_kwargs) -> None:
    """On the master (or a local run): fail the run if the server saw a token reused."""
    if isinstance(environment.runner, WorkerRunner) or not environment.host:
        return
    import requests

    try:
        stats = requests.get(f"{environment.host.rstrip('/')}/__mock/stats",
                             headers=control_headers(), timeout=10).json()
    except (requests.RequestException, ValueError) as error:
        print(f"prelude: cannot read the server's stats: {error}")
        return
    role = "master" if isinstance(environment.runner, MasterRunner) else "local"
    print(f"prelude ({role}): server refresh_ok={stats.get('refresh_ok')} "
          f"reuse_detected={stats.get('reuse_detected')} rejections={stats.get('rejections')}")
    if stats.get("reuse_detected", 0) > 0:
        environment.process_exit_code = 1
