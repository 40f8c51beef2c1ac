"""Handshake over real sockets: subprotocols, paths, security profiles 1 and 2, reconnects."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ipaddress
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ocpp_fakes import FakeSessions
from ocpp_kit import PROTOCOLS, exchange, gateway_config, raw, station
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from evbill.ocpp.auth import (
    SecurityProfile,
    StaticCredentials,
    StationCredential,
    hash_station_password,
    verify_station_password,
)
from evbill.ocpp.server import Gateway

PASSWORD = "s3cret-station-password-0001"


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_each_protocol_is_negotiated_and_served(gateway: Gateway, protocol: str) -> None:
    async with raw(gateway, "CS-1", protocol) as ws:
        assert ws.subprotocol == protocol
        answer = await exchange(ws, [2, "hb-1", "Heartbeat", {}])
        assert answer[0:2] == [3, "hb-1"]
        assert answer[2]["currentTime"].startswith("2026-03-01T12:00:00")


async def test_the_newest_common_protocol_wins(gateway: Gateway) -> None:
    async with connect(gateway.url("CS-1"), subprotocols=["ocpp1.6", "ocpp2.0.1"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "ocpp2.0.1"


@pytest.mark.parametrize("offered", [["ocpp1.5"], ["chat"], None])
async def test_no_common_subprotocol_is_refused_at_the_handshake(
    gateway: Gateway, sessions: FakeSessions, offered: list[str] | None
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await connect(gateway.url("CS-1"), subprotocols=offered)  # type: ignore[arg-type]
    assert refused.value.response.status_code == 400
    assert sessions.presence == []


@pytest.mark.parametrize("path", ["/", "/ocpp", "/ocpp/", "/other/CS-1", "/ocpp/a/b"])
async def test_unknown_path_is_404(gateway: Gateway, path: str) -> None:
    url = f"ws://127.0.0.1:{gateway.port}{path}"
    with pytest.raises(InvalidStatus) as refused:
        await connect(url, subprotocols=["ocpp1.6"])  # type: ignore[list-item]
    assert refused.value.response.status_code == 404


async def test_connect_and_disconnect_reach_the_service(
    gateway: Gateway, sessions: FakeSessions
) -> None:
    async with station(gateway, "CS-7", "ocpp1.6"):
        assert gateway.connected_station_ids() == ["CS-7"]
    for _ in range(100):
        if not gateway.is_connected("CS-7"):
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    assert sessions.presence == [("connected", "CS-7"), ("disconnected", "CS-7")]


async def test_a_reconnect_replaces_the_old_socket(
    gateway: Gateway, sessions: FakeSessions
) -> None:
    async with raw(gateway, "CS-9", "ocpp1.6") as old:
        await gateway.wait_connected("CS-9")
        async with raw(gateway, "CS-9", "ocpp2.0.1") as new:
            with pytest.raises(ConnectionClosed):  # the gateway closes the old socket
                await asyncio.wait_for(old.recv(), 5)
            assert gateway.station("CS-9").protocol == "ocpp2.0.1"
            answer = await exchange(new, [2, "1", "Heartbeat", {}])
            assert answer[0] == 3
    await asyncio.sleep(0.1)
    assert sessions.presence == [
        ("connected", "CS-9"),
        ("connected", "CS-9"),
        ("disconnected", "CS-9"),
    ]


# --- security profile 1 ------------------------------------------------------------------


@pytest.fixture
async def basic_gateway(sessions: FakeSessions) -> Gateway:
    credentials = StaticCredentials({"CS-A": StationCredential(hash_station_password(PASSWORD))})
    config = gateway_config(security_profile=SecurityProfile.BASIC)
    async with Gateway(config, sessions, credentials=credentials) as gw:
        yield gw  # type: ignore[misc]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_profile1_good_password_connects(basic_gateway: Gateway, protocol: str) -> None:
    async with station(basic_gateway, "CS-A", protocol, additional_headers=basic("CS-A", PASSWORD)):
        assert basic_gateway.is_connected("CS-A")


@pytest.mark.parametrize(
    ("station_id", "headers"),
    [
        ("CS-A", basic("CS-A", "wrong-password-000000")),  # bad password
        ("CS-A", {}),  # missing
        ("CS-A", basic("CS-B", PASSWORD)),  # someone else's name
        ("CS-A", {"Authorization": "Bearer abc"}),  # not Basic
        ("CS-A", {"Authorization": "Basic !!!"}),  # not base64
        ("CS-UNKNOWN", basic("CS-UNKNOWN", PASSWORD)),  # no credentials stored
    ],
    ids=["bad", "missing", "other-user", "bearer", "garbage", "unknown-station"],
)
async def test_profile1_refuses_with_401(
    basic_gateway: Gateway, sessions: FakeSessions, station_id: str, headers: dict[str, str]
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await connect(
            basic_gateway.url(station_id),
            subprotocols=["ocpp1.6"],
            additional_headers=headers,  # type: ignore[list-item]
        )
    assert refused.value.response.status_code == 401
    assert refused.value.response.headers["WWW-Authenticate"].startswith("Basic")
    assert sessions.presence == [] and sessions.commands == []


async def test_per_station_profile_overrides_the_global_one(sessions: FakeSessions) -> None:
    credentials = StaticCredentials(
        {"OPEN-1": StationCredential(security_profile=SecurityProfile.NONE)}
    )
    config = gateway_config(security_profile=SecurityProfile.BASIC)
    async with Gateway(config, sessions, credentials=credentials) as gw:
        async with station(gw, "OPEN-1", "ocpp2.1"):
            assert gw.is_connected("OPEN-1")
        with pytest.raises(InvalidStatus):
            await connect(gw.url("OTHER"), subprotocols=["ocpp2.1"])  # type: ignore[list-item]


def test_password_hashes_verify_and_never_contain_the_password() -> None:
    stored = hash_station_password(PASSWORD)
    assert PASSWORD not in stored
    assert verify_station_password(PASSWORD, stored)
    assert not verify_station_password(PASSWORD + "x", stored)
    assert not verify_station_password(PASSWORD, "md5$1$x$y")
    assert not verify_station_password(PASSWORD, "garbage")


# --- security profile 2: the same over TLS -------------------------------------------------


def _issue(
    tmp: Path,
    label: str,
    common_name: str,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None = None,
) -> tuple[Path, Path, x509.Name, ec.EllipticCurvePrivateKey]:
    """A certificate for `common_name` (self-signed without an issuer) and its key, as PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    issuer_name, issuer_key = issuer or (name, key)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    cert = builder.sign(issuer_key, hashes.SHA256())
    cert_file, key_file = tmp / f"{label}.pem", tmp / f"{label}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file, name, key


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    cert_file, key_file, _, _ = _issue(tmp, "server", "127.0.0.1")
    return cert_file, key_file


async def test_profile2_over_tls(tmp_path: Path, sessions: FakeSessions) -> None:
    cert_file, key_file = _self_signed(tmp_path)
    credentials = StaticCredentials({"CS-T": StationCredential(hash_station_password(PASSWORD))})
    config = gateway_config(
        security_profile=SecurityProfile.BASIC_TLS, tls_cert_file=cert_file, tls_key_file=key_file
    )
    client_tls = ssl.create_default_context(cafile=str(cert_file))
    async with Gateway(config, sessions, credentials=credentials) as gw:
        assert gw.url("CS-T").startswith("wss://")
        async with station(
            gw, "CS-T", "ocpp2.0.1", ssl=client_tls, additional_headers=basic("CS-T", PASSWORD)
        ) as cp:
            from ocpp.v201 import call

            answer = await cp.call(call.Heartbeat())
            assert answer.current_time.startswith("2026-03-01")
        with pytest.raises(InvalidStatus) as refused:
            await connect(
                gw.url("CS-T"),
                subprotocols=["ocpp2.0.1"],  # type: ignore[list-item]
                ssl=client_tls,
                additional_headers=basic("CS-T", "not-the-password-0000"),
            )
        assert refused.value.response.status_code == 401


async def test_profile2_station_on_a_plain_gateway_is_refused(sessions: FakeSessions) -> None:
    credentials = StaticCredentials(
        {"CS-T": StationCredential(hash_station_password(PASSWORD), SecurityProfile.BASIC_TLS)}
    )
    async with Gateway(gateway_config(), sessions, credentials=credentials) as gw:
        with pytest.raises(InvalidStatus) as refused:
            await connect(
                gw.url("CS-T"),
                subprotocols=["ocpp1.6"],
                additional_headers=basic("CS-T", PASSWORD),  # type: ignore[list-item]
            )
        assert refused.value.response.status_code == 401


# --- security profile 3: TLS client certificates ------------------------------------------


async def test_profile3_client_certificate(tmp_path: Path, sessions: FakeSessions) -> None:
    ca_file, _, ca_name, ca_key = _issue(tmp_path, "ca", "evbill test CA")
    server_cert, server_key, _, _ = _issue(tmp_path, "server", "127.0.0.1", (ca_name, ca_key))
    good_cert, good_key, _, _ = _issue(tmp_path, "cs-c", "CS-C", (ca_name, ca_key))
    other_cert, other_key, _, _ = _issue(tmp_path, "cs-x", "CS-X", (ca_name, ca_key))
    credentials = StaticCredentials({"CS-C": StationCredential(None, SecurityProfile.CLIENT_CERT)})
    config = gateway_config(
        security_profile=SecurityProfile.BASIC_TLS, tls_cert_file=server_cert,
        tls_key_file=server_key, tls_ca_file=ca_file,
    )  # fmt: skip

    def client(cert: Path | None, key: Path | None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(ca_file))
        if cert is not None and key is not None:
            context.load_cert_chain(str(cert), str(key))
        return context

    async with Gateway(config, sessions, credentials=credentials) as gw:
        async with station(gw, "CS-C", "ocpp2.1", ssl=client(good_cert, good_key)):
            assert gw.is_connected("CS-C")
        for cert, key in ((other_cert, other_key), (None, None)):  # wrong CN, no certificate
            with pytest.raises(InvalidStatus) as refused:
                await connect(gw.url("CS-C"), subprotocols=["ocpp2.1"], ssl=client(cert, key))  # type: ignore[list-item]
            assert refused.value.response.status_code == 401
