"""The help desk's 21 routes against a real server subprocess and a real PostgreSQL: answers, errors, authorization."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass

import pytest
import requests
from helpdesk_server import database, server

TOKEN_LIFETIME_S = 15 * 60
_names = itertools.count()


@pytest.fixture(scope="module")
def base():
    with database("hd-api") as url, server(url, cost_model="rails", clock_offset_header=True) as base_url:
        yield base_url


@dataclass
class Account:
    id: int
    username: str
    token: str
    session: requests.Session

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def register(base: str, prefix: str = "u") -> Account:
    session = requests.Session()
    name = f"{prefix}_{next(_names)}"
    r = session.post(base + "/auth/register", json={"username": name, "password": name + "-secret"})
    assert r.status_code == 201, r.text
    body = r.json()
    return Account(body["user"]["id"], name, body["token"], session)


def get(base: str, who: Account | None, path: str, **kw) -> requests.Response:
    return requests.get(base + path, headers=who.auth if who else {}, **kw)


def post(base: str, who: Account | None, path: str, **kw) -> requests.Response:
    return requests.post(base + path, headers={**(who.auth if who else {}), **kw.pop("headers", {})}, **kw)


def conversation(base: str, who: Account, title: str = "printer on fire") -> dict:
    r = post(base, who, "/conversations", json={"title": title})
    assert r.status_code == 201, r.text
    return r.json()


def message(base: str, who: Account, conversation_id: str, content: str = "hello") -> dict:
    r = post(base, who, "/messages", json={"conversationId": conversation_id, "content": content})
    assert r.status_code == 201, r.text
    return r.json()


# -- health and self-description -------------------------------------------------------------


def test_health_and_about_describe_the_server(base):
    r = requests.get(base + "/health")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["timestamp"].endswith("Z")
    about = requests.get(base + "/about").json()
    assert about["costModel"] == "rails" and about["bcryptCost"] == 4 and about["workers"] == 1
    assert isinstance(about["pid"], int) and about["version"]


# -- auth -----------------------------------------------------------------------------------------


def test_register_returns_snake_case_user_token_cookie_and_expert_profile(base):
    s = requests.Session()
    r = s.post(base + "/auth/register", json={"username": "reg_alice", "password": "reg_alice"})
    assert r.status_code == 201
    user = r.json()["user"]
    assert set(user) == {"id", "username", "created_at", "last_active_at"}
    assert isinstance(user["id"], int) and user["username"] == "reg_alice"
    assert "httponly" in r.headers["set-cookie"].lower()
    profile = requests.get(base + "/expert/profile", headers={"Authorization": f"Bearer {r.json()['token']}"}).json()
    assert profile["userId"] == str(user["id"]) and profile["knowledgeBaseLinks"] == []


def test_register_accepts_form_encoded_bodies(base):
    r = requests.post(base + "/auth/register", data={"username": "form_bob", "password": "form_bob"})
    assert r.status_code == 201 and r.json()["user"]["username"] == "form_bob"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"username": "dup_user", "password": "dup_user"}, "Username has already been taken"),
        ({"password": "longenough"}, "Username can't be blank"),
        ({"username": "nopass_user"}, "Password can't be blank"),
        ({"username": "short_pw", "password": "abc"}, "Password is too short (minimum is 6 characters)"),
        ({"username": 12345, "password": "longenough"}, "Username must be a string"),
        ({"username": "ab", "password": "longenough"}, "Username is too short (minimum is 3 characters)"),
    ],
)
def test_register_validation_is_422_with_errors(base, body, error):
    requests.post(base + "/auth/register", json={"username": "dup_user", "password": "dup_user"})
    r = requests.post(base + "/auth/register", json=body)
    assert r.status_code == 422 and error in r.json()["errors"]


def test_login_succeeds_and_bad_credentials_are_401(base):
    acct = register(base)
    r = requests.post(base + "/auth/login", json={"username": acct.username, "password": acct.username + "-secret"})
    assert r.status_code == 200 and r.json()["user"]["id"] == acct.id and r.json()["token"]
    assert r.json()["user"]["last_active_at"] is not None and "set-cookie" in r.headers
    for body in ({"username": acct.username, "password": "wrong-password"}, {"username": "nobody_here", "password": "x" * 8}, {}):
        r = requests.post(base + "/auth/login", json=body)
        assert r.status_code == 401 and r.json() == {"error": "Invalid username or password"}


def test_session_flow_register_me_logout_me(base):
    acct = register(base)
    r = acct.session.get(base + "/auth/me")
    assert r.status_code == 200 and r.json()["id"] == acct.id and "user" not in r.json()
    r = acct.session.post(base + "/auth/logout")
    assert r.status_code == 200 and r.json() == {"message": "Logged out successfully"}
    r = acct.session.get(base + "/auth/me")
    assert r.status_code == 401 and r.json() == {"error": "No session found"}


def test_logout_without_a_session_is_200(base):
    r = requests.post(base + "/auth/logout")
    assert r.status_code == 200 and r.json() == {"message": "Logged out successfully"}


def test_refresh_needs_the_session_not_the_bearer_token(base):
    acct = register(base)
    r = acct.session.post(base + "/auth/refresh")
    assert r.status_code == 200 and r.json()["user"]["id"] == acct.id
    assert requests.get(base + "/conversations", headers={"Authorization": f"Bearer {r.json()['token']}"}).status_code == 200
    r = requests.post(base + "/auth/refresh", headers=acct.auth)
    assert r.status_code == 401 and r.json() == {"error": "No session found"}


def test_me_accepts_a_bearer_token_alone(base):
    acct = register(base)
    r = get(base, acct, "/auth/me")
    assert r.status_code == 200 and r.json()["username"] == acct.username
    assert requests.get(base + "/auth/me").status_code == 401


def test_tokens_expire_after_fifteen_minutes_on_the_servers_clock(base):
    acct = register(base)
    later = {**acct.auth, "X-Helpdesk-Clock-Offset": str(TOKEN_LIFETIME_S - 60)}
    assert requests.get(base + "/conversations", headers=later).status_code == 200
    expired = {**acct.auth, "X-Helpdesk-Clock-Offset": str(TOKEN_LIFETIME_S + 1)}
    r = requests.get(base + "/conversations", headers=expired)
    assert r.status_code == 401 and r.json() == {"error": "Token has expired"}
    for bad in ("nan", "inf", "soon"):
        r = requests.get(base + "/conversations", headers={**acct.auth, "X-Helpdesk-Clock-Offset": bad})
        assert r.status_code == 400 and "error" in r.json()


def test_bad_tokens_are_401(base):
    acct = register(base)
    for header in ({}, {"Authorization": "Bearer not.a.jwt"}, {"Authorization": acct.token}, {"Authorization": "Bearer "}):
        r = requests.get(base + "/conversations", headers=header)
        assert r.status_code == 401 and "error" in r.json()
        assert requests.post(base + "/conversations", json={"title": "x"}, headers=header).status_code == 401


# -- conversations and messages -------------------------------------------------------------------


def test_conversation_create_show_list(base):
    acct = register(base)
    conv = conversation(base, acct, "cannot log in")
    assert isinstance(conv["id"], str) and conv["questionerId"] == str(acct.id) and conv["status"] == "waiting"
    assert conv["assignedExpertId"] is None and conv["lastMessageAt"] is None and conv["unreadCount"] == 0
    assert get(base, acct, f"/conversations/{conv['id']}").json() == conv
    assert [c["id"] for c in get(base, acct, "/conversations").json()] == [conv["id"]]


@pytest.mark.parametrize("body", [{}, {"title": ""}, {"title": "   "}, {"title": 7}, {"title": "x" * 256}])
def test_conversation_validation_is_422(base, body):
    acct = register(base)
    r = post(base, acct, "/conversations", json=body)
    assert r.status_code == 422 and r.json()["errors"]
    assert get(base, acct, "/conversations").json() == []


def test_another_users_conversation_is_404(base):
    owner, other = register(base), register(base)
    conv = conversation(base, owner)
    for path in (
        f"/conversations/{conv['id']}",
        f"/conversations/{conv['id']}/messages",
        "/conversations/999999",
        "/conversations/abc",
    ):
        r = get(base, other, path)
        assert r.status_code == 404 and r.json() == {"error": "Conversation not found"}
    r = post(base, other, "/messages", json={"conversationId": conv["id"], "content": "let me in"})
    assert r.status_code == 404 and r.json() == {"error": "Conversation not found"}
    assert get(base, owner, f"/conversations/{conv['id']}/messages").json() == []


def test_messages_post_list_and_bump_the_conversation(base):
    acct = register(base)
    conv = conversation(base, acct)
    msg = message(base, acct, conv["id"], "first")
    r = post(base, acct, "/messages", data={"conversationId": conv["id"], "content": "second"})
    assert r.status_code == 201
    assert msg["senderRole"] == "initiator" and msg["senderId"] == str(acct.id) and msg["isRead"] is False
    assert [m["content"] for m in get(base, acct, f"/conversations/{conv['id']}/messages").json()] == ["first", "second"]
    shown = get(base, acct, f"/conversations/{conv['id']}").json()
    assert shown["lastMessageAt"] == r.json()["timestamp"] and shown["updatedAt"] == r.json()["timestamp"]


@pytest.mark.parametrize(
    "body",
    [{"content": "x"}, {"conversationId": "1"}, {"conversationId": "1", "content": ""}, {"conversationId": "1", "content": 5}],
)
def test_message_validation_is_422(base, body):
    acct = register(base)
    conv = conversation(base, acct)
    body = {**body, "conversationId": conv["id"]} if "conversationId" in body else body
    r = post(base, acct, "/messages", json=body)
    assert r.status_code == 422 and r.json()["errors"]
    r = post(base, acct, "/messages", json={"conversationId": [conv["id"]], "content": "x"})
    assert r.status_code == 422 and r.json() == {"errors": ["Conversation must be a conversation id"]}
    assert get(base, acct, f"/conversations/{conv['id']}/messages").json() == []


def test_mark_read_authorization(base):
    asker, expert, stranger = register(base), register(base), register(base)
    conv = conversation(base, asker)
    assert post(base, expert, f"/expert/conversations/{conv['id']}/claim").status_code == 200
    reply = message(base, expert, conv["id"], "have you tried turning it off")
    assert reply["senderRole"] == "expert"
    assert get(base, asker, f"/conversations/{conv['id']}").json()["unreadCount"] == 1
    r = requests.put(base + f"/messages/{reply['id']}/read", headers=expert.auth)
    assert r.status_code == 403 and r.json()["error"]
    r = requests.put(base + f"/messages/{reply['id']}/read", headers=stranger.auth)
    assert r.status_code == 404 and r.json() == {"error": "Message not found"}
    assert requests.put(base + "/messages/99999999/read", headers=asker.auth).status_code == 404
    r = requests.put(base + f"/messages/{reply['id']}/read", headers=asker.auth)
    assert r.status_code == 200 and r.json() == {"success": True}
    assert get(base, asker, f"/conversations/{conv['id']}").json()["unreadCount"] == 0
    assert get(base, asker, f"/conversations/{conv['id']}/messages").json()[0]["isRead"] is True


# -- experts ----------------------------------------------------------------------------------------


def test_claim_unclaim_queue_and_history(base):
    asker, expert, rival = register(base), register(base), register(base)
    conv = conversation(base, asker)
    queue = get(base, expert, "/expert/queue").json()
    assert set(queue) == {"waitingConversations", "assignedConversations"}
    assert conv["id"] in [c["id"] for c in queue["waitingConversations"]]
    r = post(base, expert, f"/expert/conversations/{conv['id']}/claim")
    assert r.status_code == 200 and r.json() == {"success": True}
    queue = get(base, expert, "/expert/queue").json()
    assert [c["id"] for c in queue["assignedConversations"]] == [conv["id"]]
    assert conv["id"] not in [c["id"] for c in queue["waitingConversations"]]
    shown = get(base, expert, f"/conversations/{conv['id']}").json()
    assert shown["status"] == "active" and shown["assignedExpertId"] == str(expert.id)
    assert shown["assignedExpertUsername"] == expert.username
    r = post(base, rival, f"/expert/conversations/{conv['id']}/claim")
    assert r.status_code == 422 and r.json() == {"error": "Conversation is already assigned to an expert"}
    r = post(base, rival, f"/expert/conversations/{conv['id']}/unclaim")
    assert r.status_code == 403 and r.json() == {"error": "You are not assigned to this conversation"}
    assert post(base, rival, "/expert/conversations/99999999/claim").status_code == 404
    assert post(base, rival, "/expert/conversations/99999999/unclaim").status_code == 404
    assert post(base, expert, f"/expert/conversations/{conv['id']}/unclaim").json() == {"success": True}
    assert get(base, asker, f"/conversations/{conv['id']}").json()["status"] == "waiting"
    (entry,) = get(base, expert, "/expert/assignments/history").json()
    assert entry["conversationId"] == conv["id"] and entry["expertId"] == str(expert.id)
    assert entry["status"] == "unassigned" and entry["resolvedAt"] is not None and entry["rating"] is None


def test_expert_profile_update(base):
    acct = register(base)
    r = requests.put(
        base + "/expert/profile", json={"bio": "printers", "knowledgeBaseLinks": ["https://kb/1"]}, headers=acct.auth
    )
    assert r.status_code == 200 and r.json()["bio"] == "printers" and r.json()["knowledgeBaseLinks"] == ["https://kb/1"]
    r = requests.put(base + "/expert/profile", json={"bio": "scanners"}, headers=acct.auth)
    assert r.json()["knowledgeBaseLinks"] == ["https://kb/1"]  # either field may be sent alone
    for bad in ({"knowledgeBaseLinks": "https://kb"}, {"knowledgeBaseLinks": [1, 2]}, {"bio": 5}):
        r = requests.put(base + "/expert/profile", json=bad, headers=acct.auth)
        assert r.status_code == 422 and r.json()["errors"]
    assert get(base, acct, "/expert/profile").json()["bio"] == "scanners"


# -- polling ----------------------------------------------------------------------------------------


def test_polls_check_the_id_against_the_token(base):
    a, b = register(base), register(base)
    for path, param in (
        ("/api/conversations/updates", "userId"),
        ("/api/messages/updates", "userId"),
        ("/api/expert-queue/updates", "expertId"),
    ):
        assert get(base, a, path, params={param: a.id}).status_code == 200
        r = get(base, a, path, params={param: b.id})
        assert r.status_code == 403 and "error" in r.json()
        r = get(base, a, path)
        assert r.status_code == 400 and "error" in r.json()
        r = get(base, a, path, params={param: a.id, "since": "yesterday-ish"})
        assert r.status_code == 400 and "error" in r.json()
        assert get(base, None, path, params={param: a.id}).status_code == 401


def test_conversation_poll_since_is_strictly_after(base):
    acct = register(base)
    first = conversation(base, acct, "one")
    second = conversation(base, acct, "two")

    def poll(since=None):
        return get(base, acct, "/api/conversations/updates", params={"userId": acct.id, "since": since}).json()

    assert [c["id"] for c in poll()] == [first["id"], second["id"]]
    assert [c["id"] for c in poll(first["updatedAt"])] == [second["id"]]
    assert poll(second["updatedAt"]) == []
    assert poll(second["updatedAt"].replace("Z", "+00:00")) == []
    assert [c["id"] for c in poll(first["updatedAt"].rstrip("Z"))] == [second["id"]]  # no zone: UTC


def test_message_poll_since_is_strictly_after_and_covers_both_sides(base):
    asker, expert = register(base), register(base)
    conv = conversation(base, asker)
    post(base, expert, f"/expert/conversations/{conv['id']}/claim")
    m1 = message(base, asker, conv["id"], "q")
    m2 = message(base, expert, conv["id"], "a")

    def poll(who, since=None):
        return get(base, who, "/api/messages/updates", params={"userId": who.id, "since": since}).json()

    assert [m["id"] for m in poll(asker)] == [m1["id"], m2["id"]]
    assert [m["id"] for m in poll(expert, m1["timestamp"])] == [m2["id"]]
    assert poll(asker, m2["timestamp"]) == []


def test_expert_queue_poll_is_a_one_element_array_filtered_by_since(base):
    asker, expert = register(base), register(base)
    conv = conversation(base, asker)

    def poll(since=None):
        return get(base, expert, "/api/expert-queue/updates", params={"expertId": expert.id, "since": since}).json()

    (snapshot,) = poll()
    assert conv["id"] in [c["id"] for c in snapshot["waitingConversations"]] and snapshot["assignedConversations"] == []
    (after,) = poll(conv["updatedAt"])
    assert conv["id"] not in [c["id"] for c in after["waitingConversations"]]
    post(base, expert, f"/expert/conversations/{conv['id']}/claim")
    (claimed,) = poll(conv["updatedAt"])
    assert [c["id"] for c in claimed["assignedConversations"]] == [conv["id"]]


# -- bad input --------------------------------------------------------------------------------------


def test_malformed_json_oversized_bodies_and_unknown_routes_are_json_4xx(base):
    acct = register(base)
    json_headers = {**acct.auth, "Content-Type": "application/json"}
    cases = [
        requests.post(base + "/conversations", data=b'{"title": ', headers=json_headers),
        requests.post(base + "/conversations", data=b"[1, 2]", headers=json_headers),
        requests.post(base + "/auth/register", data=b"\xff\xfe", headers={"Content-Type": "application/json"}),
        requests.post(base + "/conversations", data=b"{" * 100_000, headers=json_headers),
    ]
    assert [r.status_code for r in cases] == [400, 400, 400, 400]
    big = requests.post(base + "/conversations", json={"title": "x" * (1024 * 1024)}, headers=acct.auth)
    assert big.status_code == 413 and big.json()["error"]
    chunked = requests.post(base + "/messages", data=iter([b"x" * 65536] * 20), headers=json_headers)
    assert chunked.status_code == 413
    assert requests.get(base + "/no/such/route").json() == {"error": "Not found"}
    r = requests.delete(base + "/conversations", headers=acct.auth)
    assert r.status_code == 405 and r.json() == {"error": "Method not allowed"}
    assert get(base, acct, "/conversations").json() == []


SQL_METACHARACTERS = ["'; DROP TABLE users; --", 'x" OR "1"="1', "%_\\", "$1 $$ ;"]


@pytest.mark.parametrize("text", SQL_METACHARACTERS)
def test_sql_metacharacters_are_stored_verbatim(base, text):
    s = requests.Session()
    r = s.post(base + "/auth/register", json={"username": text + str(next(_names)), "password": text + "pw!"})
    assert r.status_code == 201
    acct = Account(r.json()["user"]["id"], r.json()["user"]["username"], r.json()["token"], s)
    conv = conversation(base, acct, text)
    assert message(base, acct, conv["id"], text)["content"] == text
    r = requests.put(base + "/expert/profile", json={"bio": text, "knowledgeBaseLinks": [text]}, headers=acct.auth)
    assert r.json()["bio"] == text and r.json()["knowledgeBaseLinks"] == [text]
    r = requests.post(base + "/auth/login", json={"username": acct.username, "password": text + "pw!"})
    assert r.status_code == 200
    for path in ("/api/conversations/updates", "/api/messages/updates"):
        assert get(base, acct, path, params={"userId": text, "since": text}).status_code in (400, 403)
    assert get(base, acct, "/conversations/" + text.replace("/", "")).status_code == 404
    r = requests.post(base + "/auth/login", json={"username": f"{acct.username}' OR '1'='1", "password": text})
    assert r.status_code == 401  # an injection attempt is just a wrong username


def test_unstorable_text_is_422_and_nothing_is_written(base):
    acct = register(base)
    for bad in ("nul\x00byte", "lone \ud800 surrogate"):
        body = json.dumps({"title": bad})  # ensure_ascii keeps the surrogate as an escape
        r = requests.post(base + "/conversations", data=body, headers={**acct.auth, "Content-Type": "application/json"})
        assert r.status_code == 422 and r.json()["errors"]
        r = requests.post(base + "/auth/register", data=json.dumps({"username": bad, "password": "longenough"}))
        assert r.status_code == 422
    assert get(base, acct, "/conversations").json() == []
