"""The demo accounts, files, shares and chat rooms the sandbox serves.

Everything a test may want to vary (passwords, long-lived tokens, share keys) lives in one frozen
`Seed`, so a test can build a seed of unique canary strings and check that none of them leaks.
The same user names mean the same roles in every service: alice is the normal (admin) user,
bob has TOTP 2FA, carol email 2FA, dave is a normal non-admin user and mallory is blocked.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

SERVICES = ("couchdrop", "rocketchat", "iogates")
DEMO_USER = "alice"
"""The user the env vars log in, who owns the Couchdrop admin token, the PAT and the shares."""

METEOR_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"
SEED_EPOCH = datetime(2024, 3, 4, 9, 0, tzinfo=timezone.utc)
#: The website visitor of the seed's livechat room: a livechat guest, not a user.
VISITOR = "guest-1042"

# Fixed so the CLI can print them and a phone authenticator app can be set up once.
BOB_COUCHDROP_TOTP = "BOBCOUCHDROPSANDBOXTOTPSECRET234"
BOB_ROCKETCHAT_TOTP = "BOBROCKETCHATSANDBOXTOTPSECRET23"

_PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def stable_id(label: str, length: int = 17) -> str:
    """A Meteor-style id derived from `label`, so seed ids are the same on every run."""
    digest = hashlib.sha256(label.encode()).digest()
    return "".join(METEOR_ALPHABET[b % len(METEOR_ALPHABET)] for b in digest[:length])


@dataclass(frozen=True)
class User:
    """One account on one service; flags a service does not know about stay at their default."""

    username: str
    password: str
    user_id: str
    name: str
    email: str
    admin: bool = False
    blocked: bool = False
    totp_secret: str | None = None
    email_2fa: bool = False
    mobile: str | None = None
    max_file_size: int = 0
    available_storage: int = 0


@dataclass(frozen=True)
class IoFile:
    """An ioGates file or folder (`content` None) in its owner's account."""

    id: int
    owner: str
    name: str
    parent: int | None
    content: bytes | None
    created: datetime


@dataclass(frozen=True)
class Share:
    """An ioGates share of one folder; its URL is built on whatever host serves the sandbox.
    ``download`` False leaves out the permission to download source files (``master``)."""

    id: int
    name: str
    owner: str
    folder_id: int
    prefix: str
    key: str
    two_factor: bool = False
    expired: bool = False
    download: bool = True

    def url(self, base: str) -> str:
        folder = self.folder_id
        return f"{base}/show/15/{self.prefix}/{self.key}/dir/{folder}/{folder}/0/0/0"


@dataclass(frozen=True)
class Message:
    """A Rocket.Chat message; `thread_id` makes it a thread reply, `attachment` a file post."""

    id: str
    username: str
    text: str
    ts: datetime
    thread_id: str | None = None
    attachment: str | None = None


@dataclass(frozen=True)
class Room:
    """A Rocket.Chat room: kind "c" channel, "p" private group, "d" direct message, "l"
    livechat (its first member is the visitor, who is no user: the agent serving it reads it).

    A discussion has the room it was started in as `parent` (Rocket.Chat's `prid`), a random
    `name` and its title in `fname`, as createDiscussion makes it."""

    id: str
    name: str
    kind: str
    members: tuple[str, ...]
    messages: tuple[Message, ...]
    topic: str = ""
    fname: str | None = None
    parent: str | None = None

    @property
    def readers(self) -> tuple[str, ...]:
        """The users subscribed to it: a livechat room's visitor is not one."""
        return self.members[1:] if self.kind == "l" else self.members


@dataclass(frozen=True)
class Seed:
    """All the data one sandbox run serves."""

    users: Mapping[str, Mapping[str, User]]
    couchdrop_admin_token: str
    rocketchat_pat: str
    couchdrop_files: Mapping[str, Mapping[str, bytes | None]]
    iogates_files: tuple[IoFile, ...]
    shares: Mapping[str, Share]
    rooms: tuple[Room, ...]
    #: Couchdrop folders a user may only read ("r") or may not open at all ("none"), by user;
    #: a rule covers the folder and everything in it, everything else is read-write.
    couchdrop_permissions: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def user(self, service: str, name: str) -> User:
        try:
            return self.users[service][name]
        except KeyError:
            raise KeyError(f"the {service} sandbox has no user {name!r}") from None

    @classmethod
    def demo(cls, password_suffix: str = "sandbox") -> Seed:
        """The default seed; every password is `<name>-<password_suffix>`, tokens are random."""
        users = _demo_users(password_suffix)
        return cls(
            users=users,
            couchdrop_admin_token=secrets.token_hex(20),
            rocketchat_pat=secrets.token_urlsafe(32),
            couchdrop_files=_demo_couchdrop_files(),
            iogates_files=_demo_iogates_files(),
            shares={
                name: Share(
                    id=501 + index,
                    name=name,
                    owner=DEMO_USER,
                    folder_id=373,
                    prefix=secrets.token_hex(7)[:13],
                    key=secrets.token_hex(16),
                    two_factor=name == "sms",
                    expired=name == "expired",
                    download=name != "view",
                )
                for index, name in enumerate(("open", "sms", "expired", "view"))
            },
            rooms=_demo_rooms(users["rocketchat"]),
            couchdrop_permissions={"dave": {"/shared": "r", "/private": "none"}},
        )


def _demo_users(suffix: str) -> dict[str, dict[str, User]]:
    def person(username: str, user_id: str, **flags: Any) -> User:
        return User(
            username=username,
            password=f"{username}-{suffix}",
            user_id=user_id,
            name=username.capitalize() + " Example",
            email=f"{username}@example.org",
            **flags,
        )

    def meteor(username: str) -> str:
        return stable_id(f"user:{username}")

    return {
        "couchdrop": {
            "alice": person("alice", meteor("alice"), admin=True),
            "bob": person("bob", meteor("bob"), totp_secret=BOB_COUCHDROP_TOTP),
            "dave": person("dave", meteor("dave")),
            "mallory": person("mallory", meteor("mallory"), blocked=True),
        },
        "rocketchat": {
            "alice": person("alice", meteor("alice"), admin=True),
            "bob": person("bob", meteor("bob"), totp_secret=BOB_ROCKETCHAT_TOTP),
            "carol": person("carol", meteor("carol"), email_2fa=True),
            "dave": person("dave", meteor("dave")),
            "mallory": person("mallory", meteor("mallory"), blocked=True),
        },
        "iogates": {
            "alice": person(
                "alice",
                "1001",
                mobile="+44 7700 900101",
                available_storage=29301996265,
            ),
            "dave": person("dave", "1004", max_file_size=524288000, available_storage=10737418240),
            "mallory": person("mallory", "1013", blocked=True),
        },
    }


def _csv(*rows: str) -> bytes:
    return ("\n".join(rows) + "\n").encode()


def _demo_couchdrop_files() -> dict[str, dict[str, bytes | None]]:
    return {
        "alice": {
            "/reports/q3.csv": _csv(
                "region,revenue,units", "north,120500,310", "south,98250,244", "west,143900,362"
            ),
            "/reports/q4.csv": _csv(
                "region,revenue,units", "north,131200,335", "south,101700,251", "west,150300,377"
            ),
            "/images/logo.png": _PNG_1X1,
            "/readme.txt": b"Alice's Couchdrop sandbox account.\n",
            "/empty": None,
        },
        "dave": {
            "/notes/todo.txt": b"- water the plants\n- send the invoice\n",
            "/data/sensors.csv": _csv("sensor,value", "t1,21.5", "t2,19.8"),
            "/shared/handbook.txt": b"Read-only for dave: uploads and mkdir here are refused.\n",
            "/private/salaries.csv": _csv("name,salary", "alice,1"),  # dave may not open it
        },
        "bob": {"/hello.txt": b"Hello from bob.\n"},
    }


def _demo_iogates_files() -> tuple[IoFile, ...]:
    def at(days: int) -> datetime:
        return SEED_EPOCH + timedelta(days=days)

    jpeg = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8 + b"\xff\xd9"
    wav = b"RIFF" + bytes(1020)
    return (
        IoFile(373, "alice", "Projects", None, None, at(0)),
        IoFile(374, "alice", "Rushes", 373, None, at(1)),
        IoFile(375, "alice", "IMG_0752.JPG", 373, jpeg, at(1)),
        IoFile(376, "alice", "notes.txt", 374, b"Scene 4, take 2 is the good one.\n", at(2)),
        IoFile(377, "alice", "interview.wav", 374, wav, at(2)),
        IoFile(380, "alice", "Private", None, None, at(3)),
        IoFile(381, "alice", "budget.csv", 380, _csv("item,cost", "camera,1200"), at(3)),
        IoFile(382, "alice", "Archive", 380, None, at(3)),  # an empty folder
        IoFile(390, "dave", "Uploads", None, None, at(4)),
        IoFile(391, "dave", "draft.txt", 390, b"Dave's draft.\n", at(4)),
    )


def _room(
    name: str,
    kind: str,
    members: tuple[str, ...],
    count: int,
    topic: str = "",
    room_id: str | None = None,
    **names: Any,
) -> Room:
    """A room whose `count` messages are posted every 7 minutes by its members in turn;
    `names` may give its `fname` and `parent`."""
    messages: list[Message] = []
    for i in range(count):
        message_id = stable_id(f"message:{name}:{i}")
        # Every 25th message gets three thread replies; every 20th is a file post.
        thread_id = messages[i - i % 25].id if i % 25 in (1, 2, 3) else None
        attachment = f"chart-{i}.png" if i % 20 == 19 else None
        messages.append(
            Message(
                id=message_id,
                username=members[i % len(members)],
                text=f"{name} message {i + 1}",
                ts=SEED_EPOCH + timedelta(minutes=7 * i),
                thread_id=thread_id,
                attachment=attachment,
            )
        )
    room_id = room_id or stable_id(f"room:{name}")
    return Room(room_id, name, kind, members, tuple(messages), topic, **names)


def _demo_rooms(users: Mapping[str, User]) -> tuple[Room, ...]:
    dm_id = "".join(sorted(users[name].user_id for name in ("alice", "dave")))
    general = _room("general", "c", ("alice", "bob", "carol", "dave"), 250, topic="Everyone")
    return (
        general,
        _room("random", "c", ("alice", "bob", "dave"), 5),
        _room("project-x", "p", ("alice", "carol"), 12, topic="Private planning"),
        _room("alice-dave", "d", ("alice", "dave"), 8, room_id=dm_id),
        # A discussion started in #general: a random name, its title in fname.
        _room(
            stable_id("discussion:release"),
            "c",
            ("alice", "dave"),
            6,
            fname="Release plan",
            parent=general.id,
        ),
        # A livechat conversation with a website visitor that dave serves as agent.
        _room("guest-1042", "l", (VISITOR, "dave"), 4, fname="Visitor Example"),
    )
