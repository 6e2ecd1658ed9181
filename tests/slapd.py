"""A private OpenLDAP slapd on loopback, for testing the directory tool against a real server.
Registered as a pytest plugin: a test asks for `slapd` (one server per xdist worker, started
once per session) and makes its own entries with `slapd.user()` and `slapd.group(...)`, so
tests never share one.

The server has the overlays a customer's directory would: `memberof` (groupOfNames/member)
and `ppolicy` with lockout after three failures until an administrator unlocks
(`pwdLockoutDuration: 0`) and `pwdMustChange` (a reset password must be changed). Entries are
added over LDAP, not with slapadd, because slapadd bypasses the overlays: passwords would stay
cleartext and groups would give no `memberOf`.

slapd comes from apt (`scripts/ensure_slapd.sh`, run by the test command). Without it the
fixture fails, unless ALLOW_MISSING_SERVERS=1 asks to skip such tests instead.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from ldap3 import BASE, MODIFY_REPLACE, Connection, Server
from ldap3.core.exceptions import LDAPException
from ldap3.utils.dn import escape_rdn

from automation.tools.directory import DirectoryConfig
from tests.servers import binary, free_port, private_server, wait_until_ready

READY_SECONDS = 20.0
STOP_SECONDS = 20.0
SUFFIX = "dc=acme,dc=test"
ADMIN_DN = f"cn=admin,{SUFFIX}"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
POLICY = f"cn=default,ou=policies,{SUFFIX}"
PPOLICY_CONTROL = "1.3.6.1.4.1.42.2.27.8.5.1"


class Slapd:
    def __init__(self, base: Path, host: str, port: int) -> None:
        self.base, self.host, self.port = base, host, port
        self.url = f"ldap://{host}:{port}"
        self.base_dn = SUFFIX
        self.admin_dn = ADMIN_DN
        self.admin_password = uuid.uuid4().hex
        self.people_dn = PEOPLE
        self.groups_dn = GROUPS
        self.proc: subprocess.Popen[bytes] | None = None

    def config(self, **overrides: Any) -> DirectoryConfig:
        """The directory tool's settings for this server, as the admin."""
        values: dict[str, Any] = {
            "url": self.url,
            "bind_dn": self.admin_dn,
            "bind_password": self.admin_password,
            "users_base": self.people_dn,
            "groups_base": self.groups_dn,
            "timeout": 5.0,
        }
        return DirectoryConfig(**{**values, **overrides})

    def admin(self) -> Connection:
        """A bound admin connection (the caller unbinds it), to set up and inspect entries
        without going through the code under test."""
        connection = Connection(
            Server(self.url, connect_timeout=5),
            user=self.admin_dn,
            password=self.admin_password,
            receive_timeout=5,
            raise_exceptions=True,
        )
        connection.bind()
        return connection

    def user(self, name: str = "user", password: str | None = None) -> tuple[str, str, str]:
        """A new person (uid, dn, password) with a unique uid; `name` may hold characters that
        need escaping in DNs and filters. The password is hashed by the ppolicy overlay."""
        uid = f"{name}-{uuid.uuid4().hex[:10]}"
        password = password if password is not None else uuid.uuid4().hex
        dn = f"uid={escape_rdn(uid)},{PEOPLE}"
        attributes = {
            "uid": uid,
            "cn": f"Test {uid}",
            "sn": "Test",
            "displayName": f"Test {uid}",
            "mail": f"{uuid.uuid4().hex[:10]}@acme.test",
            "userPassword": password,
        }
        self._add(dn, ["inetOrgPerson"], attributes)
        return uid, dn, password

    def group(self, members: Sequence[str], name: str = "group") -> tuple[str, str]:
        """A new groupOfNames (cn, dn) holding the given uids (at least one: the schema
        forbids an empty groupOfNames)."""
        if not members:
            raise ValueError("a groupOfNames needs at least one member")
        cn = f"{name}-{uuid.uuid4().hex[:10]}"
        dn = f"cn={escape_rdn(cn)},{GROUPS}"
        member_dns = [f"uid={escape_rdn(uid)},{PEOPLE}" for uid in members]
        self._add(dn, ["groupOfNames"], {"cn": cn, "member": member_dns})
        return cn, dn

    def read(self, dn: str, *attributes: str) -> dict[str, list[str]]:
        """Raw attribute values of one entry (operational ones only when named)."""
        connection = self.admin()
        try:
            connection.search(dn, "(objectClass=*)", BASE, attributes=list(attributes))
            found: dict[str, list[str]] = {}
            response = connection.response or []
            for name, values in response[0]["attributes"].items():
                found[name] = [
                    str(value) for value in (values if isinstance(values, list) else [values])
                ]
            return found
        finally:
            connection.unbind()

    def modify(self, dn: str, **values: list[str]) -> None:
        """Replace attributes of an entry directly, e.g. to lock an account administratively."""
        connection = self.admin()
        try:
            changes = {name: [(MODIFY_REPLACE, v)] for name, v in values.items()}
            connection.modify(dn, changes)  # type: ignore[no-untyped-call]
        finally:
            connection.unbind()

    def binds(self, dn: str, password: str) -> bool:
        """Whether a simple bind as `dn` succeeds, checked without the code under test."""
        connection = Connection(
            Server(self.url, connect_timeout=5), user=dn, password=password, receive_timeout=5
        )
        try:
            return bool(connection.bind())
        finally:
            connection.unbind()

    def _add(self, dn: str, classes: list[str], attributes: dict[str, Any]) -> None:
        connection = self.admin()
        try:
            connection.add(dn, classes, attributes)  # type: ignore[no-untyped-call]
        finally:
            connection.unbind()

    def start(self) -> None:
        # Output goes to a file: slapd's `-d none` keeps it in the foreground, logging fatal
        # start-up errors (with `-d 0` they are silent).
        with (self.base / "slapd.log").open("wb") as output:
            self.proc = subprocess.Popen(
                [
                    binary("slapd"),
                    "-d",
                    "none",
                    "-F",
                    str(self.base / "slapd.d"),
                    "-h",
                    f"{self.url}/",
                    "-u",
                    "openldap",
                    "-g",
                    "openldap",
                ],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd="/",
            )
        wait_until_ready(
            self.proc,
            title="slapd",
            answers=self._answers,
            logs=self._logs,
            stop=self.stop,
            seconds=READY_SECONDS,
        )

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def _answers(self) -> bool:
        try:
            self.admin().unbind()
        except LDAPException:
            return False
        return True

    def _logs(self) -> str:
        return (self.base / "slapd.log").read_text(errors="replace")


def _slapd_conf(base: Path, admin_password: str) -> str:
    # Users may change their own password (needed after a reset); the admin is the rootdn,
    # which no ACL restricts.
    return f"""\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
moduleload memberof
pidfile {base}/slapd.pid
argsfile {base}/slapd.args

database mdb
suffix "{SUFFIX}"
rootdn "{ADMIN_DN}"
rootpw {admin_password}
directory {base}/data
maxsize 104857600
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read

overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE

overlay ppolicy
ppolicy_default "{POLICY}"
ppolicy_hash_cleartext
ppolicy_use_lockout
"""


def _seed() -> str:
    return f"""\
dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
dc: acme
o: Acme

dn: {PEOPLE}
objectClass: organizationalUnit
ou: people

dn: {GROUPS}
objectClass: organizationalUnit
ou: groups

dn: ou=policies,{SUFFIX}
objectClass: organizationalUnit
ou: policies

dn: {POLICY}
objectClass: device
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdLockout: TRUE
pwdMaxFailure: 3
pwdLockoutDuration: 0
pwdFailureCountInterval: 0
pwdMustChange: TRUE
pwdAllowUserChange: TRUE
"""


def _prepare(server: Slapd) -> None:
    """Seed the database with slapadd, then convert the config with slaptest (the other order
    fails), and hand both to the openldap user, which slapd drops to."""
    base = server.base
    base.chmod(0o755)
    (base / "data").mkdir()
    (base / "slapd.d").mkdir()
    (base / "slapd.conf").write_text(_slapd_conf(base, server.admin_password))
    (base / "seed.ldif").write_text(_seed())
    conf = str(base / "slapd.conf")
    for command in (
        [binary("slapadd"), "-f", conf, "-l", str(base / "seed.ldif")],
        [binary("slaptest"), "-f", conf, "-F", str(base / "slapd.d")],
    ):
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd="/")
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed:\n{done.stdout}{done.stderr}")
    for path in [base, *base.rglob("*")]:
        shutil.chown(path, "openldap", "openldap")


def slapd_start() -> Slapd:
    base = Path(tempfile.mkdtemp(prefix="slapd-", dir="/tmp"))
    server = Slapd(base, "127.0.0.1", free_port())
    try:
        _prepare(server)
        server.start()
    except BaseException:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
        raise
    return server


@pytest.fixture(scope="session")
def slapd() -> Iterator[Slapd]:
    yield from private_server(
        program="slapd",
        title="OpenLDAP slapd",
        installer="scripts/ensure_slapd.sh",
        why_root="it drops to the openldap user",
        start=slapd_start,
    )
