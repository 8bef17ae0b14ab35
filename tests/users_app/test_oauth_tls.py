"""Allow insecure requests: the provider served over HTTPS with a self-signed certificate is refused with
a clear page until the administrator turns the setting on, then the login works."""

import datetime
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.test import Client

from settings_app.services import save_values

from .conftest import OidcProvider, local_path, start_provider, stop_provider, walk_provider

pytestmark = pytest.mark.django_db


def self_signed_certificate(directory):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.fixture(scope="module")
def tls_provider(tmp_path_factory):
    cert_file, key_file = self_signed_certificate(tmp_path_factory.mktemp("tls"))
    process, issuer = start_provider({"TLS_CERT": str(cert_file), "TLS_KEY": str(key_file)})
    assert issuer.startswith("https://")
    yield OidcProvider(issuer, verify=False)
    stop_provider(process)


def test_self_signed_provider_needs_allow_insecure_requests(tls_provider, allow_private_issuers, django_user_model):
    registered = tls_provider.register_client(redirect_uris=["http://testserver/auth/oauth/callback/"],
                                              token_endpoint_auth_method="client_secret_post")
    assert save_values({"oauth.enabled": True, "oauth.issuerUrl": tls_provider.issuer,
                        "oauth.clientId": registered["client_id"],
                        "oauth.clientSecret": registered["client_secret"]}).ok
    refused = Client().get("/auth/oauth/start/")
    assert refused.status_code == 502
    text = refused.content.decode()
    assert "TLS certificate of the issuer URL (127.0.0.1:" in text and "could not be verified" in text
    assert "turn on “Allow insecure requests”" in text

    assert save_values({"oauth.allowInsecureRequests": True}).ok
    tls_provider.set_account("sub-tls", email="tls@example.com")
    client = Client()
    start = client.get("/auth/oauth/start/")
    assert start.status_code == 302 and start["Location"].startswith(tls_provider.issuer)
    response = client.get(local_path(walk_provider(start["Location"], verify=False)))
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(django_user_model.objects.get(oauth_id="sub-tls").pk)
