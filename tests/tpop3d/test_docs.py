"""What README.md and docs/tpop3d.md show stays true: the tpop3d.conf fragments are the ones
the other tests run (tpop3dlib.auth_other and auth_perl read them from docs/tpop3d.md), the
README repeats them unchanged, and the documented build command of the helper works."""

import subprocess

import pytest

from tpop3dlib import DOC, REPO, conf_fragment, decode, encode, find_program, pass_req


@pytest.mark.parametrize("route", ["auth-other", "auth-perl"])
def test_readme_shows_the_documented_fragments(route):
    assert conf_fragment(REPO / "README.md", route) == conf_fragment(DOC, route)


def test_helper_builds_with_pkg_config_as_documented(build, configs, work):
    gcc = find_program("gcc", "apt-get install gcc")
    pkg_config = find_program("pkg-config", "apt-get install pkg-config")
    env = {"PKG_CONFIG_PATH": str(build.stage / "usr/local/lib/pkgconfig"),
           "PKG_CONFIG_SYSROOT_DIR": str(build.stage), "PATH": "/usr/bin:/bin"}
    flags = subprocess.run([pkg_config, "--cflags", "--libs", "vmailsql"], env=env,
                           capture_output=True, text=True, check=True).stdout.split()
    out = work / "tpop3d-auth-other"
    subprocess.run([gcc, "-std=c99", "-O2", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-o",
                    str(out), str(REPO / "examples/tpop3d-auth-other.c"), *flags], check=True)
    proc = subprocess.run([str(out), "--config", str(configs["sqlite"])],
                          input=encode(pass_req("alice@example.org", "secret")),
                          capture_output=True, env={"LD_LIBRARY_PATH": str(build.libdir)})
    assert proc.returncode == 0, proc.stderr
    assert dict(decode(proc.stdout))["result"] == "YES"
