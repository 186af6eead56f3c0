"""`files serve-config nginx`: the rendered site, hostile values, the password files."""

from __future__ import annotations

import grp
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from kea_fanvil.cli.app import main
from kea_fanvil.errors import FilesError, PolicyError
from kea_fanvil.files import htpasswd
from kea_fanvil.files.serve_config import (
    NginxSite,
    guarded_files,
    nginx_problems,
    parse_allow,
    parse_listen,
    render_nginx,
)
from kea_fanvil.policy.loader import parse_policy
from kea_fanvil.policy.models import Policy

POLICY = """version: 1
provisioning:
  url: "http://fanvil:shared-pw@198.18.0.1/"
sites:
  - name: hq
    subnet: 198.18.0.0/24
  - name: branch
    subnet: [198.18.64.0/18, 198.18.1.0/24]
    url: "http://branch:branch-pw@198.18.0.1/"
devices:
  - mac: "0c:38:3e:11:3a:f8"
    url: "http://desk12:pw-12@198.18.0.1/$mac.cfg"
    model: C62
    boot_file: desk-12.cfg
  - mac: "0c:38:3e:07:e1:6c"
    model: X4
    custom_file: "x-$mac.cfg"
"""
SECRETS = ("shared-pw", "branch-pw", "pw-12")


def _policy(text: str = POLICY) -> Policy:
    return parse_policy(text, check_files=True)


def _site(**kw: object) -> NginxSite:
    defaults: dict[str, object] = {"root": "/srv/fanvil"}
    defaults.update(kw)
    return NginxSite(**defaults)  # type: ignore[arg-type]


def _locations(config: str) -> dict[str, str]:
    return dict(re.findall(r'location = "([^"]+)" \{(.*?)\n    \}', config, re.S))


def test_only_built_names_are_served_each_to_the_sites() -> None:
    config = render_nginx(_policy(), _site()).config
    locations = _locations(config)
    assert sorted(locations) == sorted(
        [
            "/f0C006200000.cfg",
            "/f0X4hw1.100.cfg",
            "/0c383e113af8.cfg",
            "/desk-12.cfg",
            "/0c383e07e16c.cfg",
            "/x-0c383e07e16c.cfg",
        ]
    )
    for path, body in locations.items():
        assert f'alias "/srv/fanvil{path}";' in body
        # The sites' subnets, collapsed, then everyone else refused.
        assert re.findall(r"allow (\S+);", body) == [
            "198.18.0.0/23",
            "198.18.64.0/18",
        ]
        assert body.rstrip().endswith("deny all;")
        assert "auth_basic" not in body
    # Everything else 404, from a location with no access rule, so never 401 or 403.
    assert "    location / { return 404; }\n" in config
    assert config.count("location") == len(locations) + 1
    assert "escape=json" in config and 'access_log "/var/log/nginx/kea-fanvil-access.log"' in config


def test_device_auth_uses_each_devices_url_and_writes_no_secret_in_the_site() -> None:
    rendered = render_nginx(_policy(), _site(auth="device", htpasswd_dir="/etc/nginx/kea-fanvil"))
    for secret in SECRETS:
        assert secret not in rendered.config
    locations = _locations(rendered.config)

    def user_file(path: str) -> str:
        found = re.search(r'auth_basic_user_file "([^"]+)";', locations[path])
        assert found is not None and 'auth_basic "Fanvil provisioning";' in locations[path]
        return found[1].rsplit("/", 1)[1]

    assert user_file("/0c383e113af8.cfg") == user_file("/desk-12.cfg") == "0c383e113af8.htpasswd"
    assert user_file("/0c383e07e16c.cfg") == user_file("/x-0c383e07e16c.cfg")
    assert user_file("/f0C006200000.cfg") == "common.htpasswd"
    assert rendered.passwords == {
        "common.htpasswd": [
            ("fanvil", "shared-pw"),
            ("branch", "branch-pw"),
            ("desk12", "pw-12"),
        ],
        "0c383e113af8.htpasswd": [("desk12", "pw-12")],
        # No URL of its own: whatever its site hands it, the site's or the default one.
        "0c383e07e16c.htpasswd": [("fanvil", "shared-pw"), ("branch", "branch-pw")],
    }
    assert any("no URL of their own" in note for note in rendered.notes)


def test_shared_id_file_accepts_each_owner() -> None:
    text = POLICY.replace('custom_file: "x-$mac.cfg"', "boot_file: desk-12.cfg").replace(
        "    model: X4\n", '    model: X4\n    url: "http://desk7:pw-7@198.18.0.1/"\n'
    )
    rendered = render_nginx(_policy(text), _site(auth="device", htpasswd_dir="/etc/pw"))
    shared = [g for g in rendered.files if g.name == "desk-12.cfg"]
    assert len(shared) == 1 and len(shared[0].devices) == 2
    assert shared[0].htpasswd is not None and shared[0].htpasswd.startswith("shared-")
    assert rendered.passwords[shared[0].htpasswd] == [("desk12", "pw-12"), ("desk7", "pw-7")]


def test_device_auth_refuses_what_a_password_file_cannot_hold() -> None:
    plain = POLICY.replace("fanvil:shared-pw@", "")
    problems = nginx_problems(_policy(plain), _site(auth="device", htpasswd_dir="/etc/pw"))
    assert [loc for loc, _ in problems] == [("provisioning", "url")]
    assert "carries no user:password" in problems[0][1]
    clash = POLICY.replace("desk12:pw-12", "branch:other")
    problems = nginx_problems(_policy(clash), _site(auth="device", htpasswd_dir="/etc/pw"))
    assert problems and all("another password" in msg for _, msg in problems)
    dollar = POLICY.replace("desk12:pw-12", "desk12:pw$mac")
    problems = nginx_problems(_policy(dollar), _site(auth="device", htpasswd_dir="/etc/pw"))
    assert problems[0][0] == ("devices", 0, "url") and "'$'" in problems[0][1]
    with pytest.raises(FilesError, match=r"provisioning\.url: with --auth device"):
        render_nginx(_policy(plain), _site(auth="device", htpasswd_dir="/etc/pw"))
    with pytest.raises(FilesError, match="needs --htpasswd"):
        render_nginx(_policy(), _site(auth="device"))


def test_no_sites_and_no_allow_is_refused_not_open() -> None:
    text = POLICY.split("sites:")[0] + "devices:" + POLICY.split("devices:")[1]
    assert "--allow" in nginx_problems(_policy(text), _site())[0][1]
    config = render_nginx(_policy(text), _site(allow=(parse_allow("0.0.0.0/0"),))).config
    assert "allow 0.0.0.0/0;" in config


HOSTILE = ['a"b', "a b", "a;b", "a}b", "a{b", "a$b", "a\nb", "a\\b", "a'b", "a\tb", "a\0b"]


@pytest.mark.parametrize("bad", HOSTILE)
def test_hostile_paths_and_names_are_refused(bad: str) -> None:
    policy = _policy()
    for kw in (
        {"root": f"/srv/{bad}"},
        {"access_log": f"/var/log/{bad}.log"},
        {"auth": "device", "htpasswd_dir": f"/etc/{bad}"},
        {"prefix": f"/{bad}/"},
        {"server_names": (f"prov{bad}.example.com",)},
        {"tls_cert": f"/etc/{bad}.pem", "tls_key": "/etc/k.pem"},
        {"listen": (f"80{bad}",)},
    ):
        with pytest.raises(FilesError):
            render_nginx(policy, _site(**kw))


@pytest.mark.parametrize("bad", [*HOSTILE, "80 ssl", "1.2.3.4:80;", "[::1:80", "99999", "::1:80"])
def test_hostile_listen_and_allow_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_listen(bad)
    with pytest.raises(ValueError):
        parse_allow(f"198.18.0.0/24{bad}")


def test_listen_forms() -> None:
    assert parse_listen("8080") == "8080"
    assert parse_listen("198.18.0.1:80") == "198.18.0.1:80"
    assert parse_listen("[2001:db8::1]:443") == "[2001:db8::1]:443"
    with pytest.raises(ValueError, match="not a network"):
        parse_allow("198.18.0.1/24")  # host bits set: a typo more often than not


@pytest.mark.parametrize(
    "name", ['x"y.cfg', "x;y.cfg", "x}y.cfg", "x y.cfg", "x$y.cfg", "x\ny.cfg", "../x.cfg"]
)
def test_hostile_file_names_never_reach_the_site(name: str) -> None:
    escaped = name.replace("\n", "\\n").replace('"', '\\"')
    with pytest.raises(PolicyError):  # the loader refuses them first
        parse_policy(POLICY.replace("desk-12.cfg", escaped), check_files=True)
    # A Policy changed after loading is still refused, by the plan or by the renderer.
    policy = _policy()
    for field in ("boot_file", "custom_file"):
        device = policy.devices[1].model_copy(update={field: name})
        loose = policy.model_copy(update={"devices": [policy.devices[0], device]})
        with pytest.raises(FilesError):
            render_nginx(loose, _site())


def test_hostile_site_names_and_passwords_stay_out_of_the_site() -> None:
    text = POLICY.replace("name: branch", 'name: "b}; deny all; location / {"').replace(
        "desk12:pw-12", "desk12:p%22w%3B%7D"
    )
    rendered = render_nginx(_policy(text), _site(auth="device", htpasswd_dir="/etc/pw"))
    assert "deny all; location" not in rendered.config
    assert ("desk12", 'p"w;}') in rendered.passwords["0c383e113af8.htpasswd"]


def test_guarded_files_follow_the_plan() -> None:
    found = {g.name: (g.kind, g.devices) for g in guarded_files(_policy())}
    assert found["f0C006200000.cfg"] == ("common", ())
    assert found["desk-12.cfg"] == ("id", ("0c:38:3e:11:3a:f8",))
    assert found["x-0c383e07e16c.cfg"] == ("custom", ("0c:38:3e:07:e1:6c",))


# --- password files --------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
@pytest.mark.parametrize(
    ("password", "salt"),
    [("s3cret", "abcdefgh"), ("y", "saltsaltsaltsalt"), ("x" * 200, "Zz./09"), ("pä$s:w", "a")],
)
def test_sha512_crypt_is_what_openssl_computes(password: str, salt: str) -> None:
    expected = (
        subprocess.run(
            ["openssl", "passwd", "-6", "-salt", salt, "-stdin"],
            input=password.encode(),
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    assert htpasswd.sha512_crypt(password, salt) == expected
    assert htpasswd.check(password, expected) and not htpasswd.check(password + "x", expected)


def test_sha512_crypt_specification_vectors() -> None:
    # Drepper's SHA-crypt.txt, test vectors 1 and 2 of SHA-512.
    assert htpasswd.sha512_crypt("Hello world!", "saltstring") == (
        "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEd"
        "FCoEOfaS35inz1"
    )
    assert htpasswd.sha512_crypt("Hello world!", "saltstringsaltstring", 10000) == (
        "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8"
        "vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."
    )
    assert htpasswd.check("Hello world!", htpasswd.sha512_crypt("Hello world!", None, 10000))


def test_password_file_is_stable_private_and_refuses_special_files(tmp_path: Path) -> None:
    group = grp.getgrgid(os.getgid()).gr_name
    path = tmp_path / "a.htpasswd"
    assert htpasswd.write(path, [("u1", "first-Secret"), ("u2", "second-Secret")], group)
    first = path.read_text()
    assert [line.split(":")[0] for line in first.splitlines()] == ["u1", "u2"]
    assert "Secret" not in first and os.stat(path).st_mode & 0o777 == 0o640
    assert not htpasswd.write(
        path, [("u1", "first-Secret"), ("u2", "second-Secret")], group
    )  # unchanged: kept
    assert path.read_text() == first
    assert htpasswd.write(path, [("u1", "first-Secret"), ("u2", "new")], group)
    assert path.read_text().splitlines()[0] == first.splitlines()[0]
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(FilesError):
        htpasswd.write(fifo, [("u", "p")], group)
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(FilesError):
        htpasswd.write(tmp_path / "dangling", [("u", "p")], group)
    with pytest.raises(FilesError, match="no group"):
        htpasswd.write(path, [("u", "p")], "no-such-group-kf")


# --- the command --------------------------------------------------------------------------------


def test_command_writes_site_and_password_files(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    policy.chmod(0o600)
    group = grp.getgrgid(os.getgid()).gr_name
    out = tmp_path / "site.conf"
    args = ["files", "serve-config", "nginx", str(policy), "--root", str(tmp_path / "srv")]
    args += ["--auth", "device", "--htpasswd", str(tmp_path / "pw"), "--htpasswd-group", group]
    args += ["--listen", "198.18.0.1:8080", "--server-name", "prov.example.com"]
    result = CliRunner().invoke(main, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert "lacks" in result.stderr  # not built yet: said
    config = out.read_text()
    assert "listen 198.18.0.1:8080;" in config and "server_name prov.example.com;" in config
    assert sorted(p.name for p in (tmp_path / "pw").iterdir()) == [
        "0c383e07e16c.htpasswd",
        "0c383e113af8.htpasswd",
        "common.htpasswd",
    ]
    for secret in SECRETS:
        assert secret not in config + result.stdout + result.stderr
    bad = CliRunner().invoke(main, [*args, "--listen", "80;x"])
    assert bad.exit_code == 2 and "--listen" in bad.stderr
    printed = CliRunner().invoke(main, [*args[:6], "--allow", "192.0.2.0/24"])
    assert printed.exit_code == 0 and "allow 192.0.2.0/24;" in printed.stdout


def test_command_names_the_policy_line_of_a_problem(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.replace("fanvil:shared-pw@", ""))
    policy.chmod(0o600)
    args = ["files", "serve-config", "nginx", str(policy), "--root", "/srv/fanvil"]
    result = CliRunner().invoke(main, [*args, "--auth", "device", "--htpasswd", "/nonexistent/x"])
    assert result.exit_code == 1
    assert f"{policy}:3:" in result.stderr and "carries no user:password" in result.stderr
    assert not Path("/nonexistent/x").exists()


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_nginx_reads_the_rendered_site(tmp_path: Path) -> None:
    """`nginx -t` on the site with TLS and device auth, as the integration test runs it."""
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=prov"),
            *("-keyout", str(tmp_path / "k.pem"), "-out", str(tmp_path / "c.pem"), "-days", "1"),
        ],
        capture_output=True,
        check=True,
    )
    rendered = render_nginx(
        _policy(),
        _site(
            root=str(tmp_path / "srv"),
            auth="device",
            htpasswd_dir=str(tmp_path / "pw"),
            access_log=str(tmp_path / "access.log"),
            listen=("127.0.0.1:18443",),
            tls_cert=str(tmp_path / "c.pem"),
            tls_key=str(tmp_path / "k.pem"),
            prefix="/fanvil/",
        ),
    )
    assert "listen 127.0.0.1:18443 ssl;" in rendered.config
    assert 'location = "/fanvil/0c383e113af8.cfg"' in rendered.config
    (tmp_path / "site.conf").write_text(rendered.config)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{ include {tmp_path}/site.conf; }}\n"
    )
    done = subprocess.run(
        ["nginx", "-t", "-e", str(tmp_path / "e.log"), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
