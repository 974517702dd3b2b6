"""SPEC §1: frame validation, unknown events and the application ping."""

import json

import pytest

from harness import ERR_EVENT_NOT_FOUND, ERR_INVALID_EVENT, Client

INVALID = {"status": "error", "error": ERR_INVALID_EVENT}


async def test_text_frame_that_is_not_json_is_an_invalid_event(daemon):
    c = await Client.connect(daemon.ws_url)
    await c.send_text("hello {")
    assert await c.recv_json() == INVALID


@pytest.mark.parametrize("frame", ["[]", '[{"event": "ping"}]', '"ping"', "42", "null", "true"])
async def test_json_that_is_not_an_object_is_an_invalid_event(daemon, frame):
    c = await Client.connect(daemon.ws_url)
    await c.send_text(frame)
    assert await c.recv_json() == INVALID


async def test_object_without_event_is_an_invalid_event(daemon):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"subscription": "open.topic"}) == INVALID


@pytest.mark.parametrize("event", [None, 1, 1.5, True, {"name": "ping"}, ["ping"]])
async def test_non_string_event_is_an_invalid_event(daemon, event):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": event}) == INVALID


async def test_event_longer_than_40_characters_is_invalid_and_not_echoed(daemon):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "e" * 41}) == INVALID


async def test_event_of_exactly_40_characters_is_an_unknown_event(daemon):
    c = await Client.connect(daemon.ws_url)
    name = "e" * 40
    assert await c.request({"event": name}) == {"event": name, "status": "error", "error": ERR_EVENT_NOT_FOUND}


async def test_event_length_counts_characters_not_bytes(daemon):
    # 40 two-byte characters: 80 UTF-8 bytes but 40 characters -> not invalid.
    c = await Client.connect(daemon.ws_url)
    name = "é" * 40
    assert await c.request({"event": name}) == {"event": name, "status": "error", "error": ERR_EVENT_NOT_FOUND}


async def test_unknown_event_is_echoed_with_event_not_found(daemon):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "hello", "data": 1}) == {
        "event": "hello",
        "status": "error",
        "error": ERR_EVENT_NOT_FOUND,
    }


async def test_empty_event_name_is_an_unknown_event(daemon):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": ""}) == {"event": "", "status": "error", "error": ERR_EVENT_NOT_FOUND}


async def test_event_names_are_case_sensitive(daemon):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "PING"}) == {"event": "PING", "status": "error", "error": ERR_EVENT_NOT_FOUND}


async def test_connection_stays_open_after_invalid_frames(daemon):
    c = await Client.connect(daemon.ws_url)
    await c.send_text("not json")
    assert await c.recv_json() == INVALID
    assert await c.request({"no": "event"}) == INVALID
    await c.ping_pong("still here")


async def test_binary_frame_is_accepted_as_json(daemon):
    c = await Client.connect(daemon.ws_url)
    await c.send_bytes(json.dumps({"event": "ping", "data": "bin"}).encode())
    assert await c.recv_json() == {"event": "pong", "data": "bin"}


async def test_binary_frame_that_is_not_json_is_an_invalid_event(daemon):
    c = await Client.connect(daemon.ws_url)
    await c.send_bytes(b"not json {")
    assert await c.recv_json() == INVALID


# -- ping -------------------------------------------------------------------


async def test_ping_without_data_answers_pong_with_null(daemon):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "ping"}) == {"event": "pong", "data": None}


async def test_ping_with_string_data_echoes_it(daemon):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "ping", "data": "hello"}) == {"event": "pong", "data": "hello"}


async def test_ping_data_is_cut_to_128_characters(daemon):
    c = await Client.connect(daemon.ws_url)
    data = "".join(chr(ord("a") + i % 26) for i in range(300))
    assert await c.request({"event": "ping", "data": data}) == {"event": "pong", "data": data[:128]}


async def test_ping_data_cut_counts_characters_not_bytes(daemon):
    c = await Client.connect(daemon.ws_url)
    data = "é€😀x" * 50  # 2-, 3-, 4- and 1-byte UTF-8 characters
    assert await c.request({"event": "ping", "data": data}) == {"event": "pong", "data": data[:128]}


async def test_ping_data_of_exactly_128_characters_is_kept(daemon):
    c = await Client.connect(daemon.ws_url)
    data = "x" * 128
    assert await c.request({"event": "ping", "data": data}) == {"event": "pong", "data": data}


@pytest.mark.parametrize("data", [123, 1.5, True, None, {"a": "b"}, ["x"]])
async def test_ping_with_non_string_data_answers_pong_with_null(daemon, data):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "ping", "data": data}) == {"event": "pong", "data": None}


async def test_ping_contacts_no_service(daemon, fake_service):
    c = await Client.connect(daemon.ws_url)
    await c.ping_pong("a")
    await c.ping_pong("b")
    assert fake_service.requests() == []


async def test_whitespace_around_the_json_is_accepted(daemon):
    c = await Client.connect(daemon.ws_url)
    await c.send_text(' \n\t{"event": "ping", "data": "ws"} \r\n')
    assert await c.recv_json() == {"event": "pong", "data": "ws"}


async def test_duplicate_keys_the_last_one_wins(daemon):
    c = await Client.connect(daemon.ws_url)
    await c.send_text('{"event": "nope", "data": "first", "event": "ping", "data": "last"}')
    assert await c.recv_json() == {"event": "pong", "data": "last"}
