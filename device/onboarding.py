"""Remote onboarding from the reference app (docs/app-api.md §6, docs/onboarding.md).

The app opens an application, sends the evidence, follows the service's checks, answers
the secondary authentication and finally opens the sealed registration ticket, which
:meth:`device.app.DeviceApp.register` then redeems like any other ticket.

``--selfie-dir`` holds pre-recorded poses, as ``enrolment/management/commands/
make_selfie_frames.py`` writes them: ``neutral-*.jpg``, ``blink-*.jpg``, ``left-*.jpg``,
``right-*.jpg``. To perform a challenge the app plays neutral, then per step its pose and
neutral again, never using a file twice (the service refuses reused frames).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from device.app import DeviceApp
from device.errors import InputError, ProtocolError
from device.passport import Passport
from device.state import b64
from device.wire import base64_field
from signing.engine import onboarding_ticket_aad

API = "/app/v1/onboarding"
POSE_FILES = {"neutral": "neutral", "blink": "blink", "turn_left": "left", "turn_right": "right"}
#: How long the app follows the checks before giving up (a manual review takes longer:
#: then the app stops and the person runs ``onboard --resume`` later).
FOLLOW_SECONDS = 180.0
WAITING_STATES = {"CHECKING"}
MAX_FRAME_BYTES = 700_000

Progress = Callable[[Mapping[str, Any]], None]
AskCode = Callable[[str, str], str]


@dataclass(frozen=True)
class Outcome:
    """Where the application ended: APPROVED with the ticket code, or another state."""

    application_id: str
    state: str
    ticket: str | None
    failure: Mapping[str, Any] | None
    status: Mapping[str, Any]


class Onboarding:
    """One application of this device, followed until it is decided."""

    def __init__(
        self,
        app: DeviceApp,
        *,
        progress: Progress | None = None,
        clock: Callable[[], float] = time.time,
        poll_interval: float = 0.3,
    ) -> None:
        self.app = app
        self.progress = progress
        self.clock = clock
        self.poll_interval = poll_interval
        self.application_id = ""
        self.token = ""

    # -- the three identity sources ----------------------------------------------------

    def start(self, source: str, **fields: object) -> dict[str, Any]:
        payload: dict[str, object] = {
            "source": source,
            "appKey": b64(self.app.device_public_key()),
        }
        payload |= {k: v for k, v in fields.items() if v not in (None, "")}
        started = self.app.call("POST", API, payload, bearer="-")
        application_id = started.get("applicationId")
        token = started.get("token")
        if not isinstance(application_id, str) or not isinstance(token, str):
            raise ProtocolError("the service did not return the application id and secret")
        self.application_id, self.token = application_id, token
        self._report(started)
        return started

    def passport(self, passport_file: Path, selfie_dir: Path, *, level: str = "QUALIFIED") -> None:
        """eMRTD: chip files + AA answer, then a liveness challenge performed with the
        poses in ``selfie_dir``; the checks start when this returns.
        """
        chip = Passport.load(passport_file)
        poses = _load_poses(selfie_dir)
        started = self.start("EMRTD", level=level, consentBiometrics=True)
        aa_signature = None
        if isinstance(started.get("aaChallenge"), str):
            aa_signature = chip.sign_aa(base64_field(started, "aaChallenge"))
        payload: dict[str, object] = {
            "sod": b64(chip.sod),
            "dataGroups": {str(n): b64(d) for n, d in sorted(chip.data_groups.items())},
        }
        if aa_signature is not None:
            payload["aaSignature"] = b64(aa_signature)
        self._call("PUT", "/passport", payload)
        liveness = self._call("POST", "/liveness", None)
        steps = liveness.get("steps")
        if not isinstance(steps, list) or not all(s in POSE_FILES for s in steps):
            raise ProtocolError("the service sent an unknown liveness challenge")
        self._report({"state": "LIVENESS", "liveness": steps})
        for index, (data, captured_at_ms) in enumerate(
            perform_challenge(poses, steps, start_ms=int(self.clock() * 1000))
        ):
            self._call(
                "PUT",
                "/frames",
                {"index": index, "capturedAtMs": captured_at_ms, "data": b64(data)},
            )
        self._report(self._call("POST", "/submit", None))

    def mobile_id(self, phone_number: str, national_identity_number: str) -> None:
        self.start(
            "MOBILE_ID", phoneNumber=phone_number, nationalIdentityNumber=national_identity_number
        )

    def existing_account(self, document_number: str) -> None:
        self.start("EXISTING_ACCOUNT", documentNumber=document_number)

    # -- following the checks ------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return self._call("GET", "", None)

    def follow(
        self, *, ask_code: AskCode | None = None, seconds: float = FOLLOW_SECONDS
    ) -> Outcome:
        """Poll until the application leaves CHECKING; answer the secondary authentication
        with ``ask_code(channel, masked address)``; open the ticket once APPROVED.
        """
        deadline = time.monotonic() + seconds
        while True:
            status = self.status()
            self._report(status)
            state = status.get("state")
            if state == "SECONDARY" and ask_code is not None:
                secondary = status.get("secondary") or {}
                code = ask_code(
                    str(secondary.get("channel", "")), str(secondary.get("address", ""))
                )
                status = self._call("POST", "/secondary", {"code": code})
                self._report(status)
                state = status.get("state")
            if state not in WAITING_STATES or time.monotonic() >= deadline:
                return self._outcome(status)
            time.sleep(self.poll_interval)

    def _outcome(self, status: Mapping[str, Any]) -> Outcome:
        state = str(status.get("state"))
        ticket = None
        sealed = status.get("ticket")
        if state == "APPROVED":
            if not isinstance(sealed, dict) or not isinstance(sealed.get("length"), int):
                raise ProtocolError("an approved application without its sealed ticket")
            ticket = self.app.open_sealed(
                sealed.get("envelope"), onboarding_ticket_aad(self.application_id), sealed["length"]
            ).decode("ascii")
        failure = status.get("failure")
        return Outcome(
            self.application_id,
            state,
            ticket,
            failure if isinstance(failure, dict) else None,
            status,
        )

    def _call(
        self, method: str, suffix: str, payload: Mapping[str, object] | None
    ) -> dict[str, Any]:
        if not self.application_id:
            raise InputError("no application started")
        return self.app.call(
            method, f"{API}/{self.application_id}{suffix}", payload, bearer=self.token
        )

    def _report(self, status: Mapping[str, Any]) -> None:
        if self.progress is not None:
            self.progress(status)


def _load_poses(folder: Path) -> dict[str, list[bytes]]:
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder of selfie frames")
    poses: dict[str, list[bytes]] = {}
    for step, prefix in POSE_FILES.items():
        files = sorted(p for p in folder.iterdir() if p.name.startswith(prefix + "-"))
        for path in files:
            data = path.read_bytes()
            if len(data) > MAX_FRAME_BYTES:
                raise InputError(f"{path.name} is larger than {MAX_FRAME_BYTES} bytes")
            poses.setdefault(step, []).append(data)
    if "neutral" not in poses:
        raise InputError(f"{folder} holds no neutral-*.jpg frames")
    return poses


def perform_challenge(
    poses: Mapping[str, list[bytes]], steps: list[str], *, start_ms: int, step_ms: int = 400
) -> list[tuple[bytes, int]]:
    """The frames a person would record: neutral, then each step followed by neutral."""
    unused = {name: list(frames) for name, frames in poses.items()}

    def take(name: str) -> bytes:
        if not unused.get(name):
            raise InputError(f"not enough unused '{POSE_FILES[name]}-*' frames for the challenge")
        return unused[name].pop(0)

    sequence = [take("neutral")]
    for step in steps:
        sequence += [take(step), take("neutral")]
    return [(frame, start_ms + i * step_ms) for i, frame in enumerate(sequence)]


def progress_bar(status: Mapping[str, Any], width: int = 24) -> str:
    """``[#########-----------] 3/6 face`` from a status answer."""
    steps = status.get("steps")
    if not isinstance(steps, list) or not steps:
        return str(status.get("state", ""))
    done = sum(1 for s in steps if isinstance(s, dict) and s.get("status") == "ok")
    running = next(
        (
            s.get("step")
            for s in steps
            if isinstance(s, dict) and s.get("status") in ("running", "pending")
        ),
        "",
    )
    filled = round(width * done / len(steps))
    label = status.get("state", "")
    if label == "CHECKING" and running:
        label = f"checking: {running}"
    return f"[{'#' * filled}{'-' * (width - filled)}] {done}/{len(steps)} {label}"
