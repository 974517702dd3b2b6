"""Static checks of docker/: the Dockerfiles and the compose file refer to
files that exist, build with the same install script as README and CI, run
as a non-root user, and configure the daemon with settings it accepts.

Run: /usr/bin/python3 -m pytest -q tests/tooling
(The image itself is built and run by docker/test.sh, which takes minutes.)
"""

import fnmatch
import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
BINARY = Path(os.environ.get("SOCKETSHARK_BINARY", ROOT / "build" / "socketshark"))


# -- a small Dockerfile reader ----------------------------------------------------

def instructions(path):
    """[(stage index, INSTRUCTION, argument text)], continuation lines joined."""
    out, stage, pending = [], -1, ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text = (pending + line).strip()
        pending = ""
        keyword, _, argument = text.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        out.append((stage, keyword, argument.strip()))
    assert not pending, f"{path}: unterminated continuation line"
    return out


def words(argument):
    """Arguments of an instruction: JSON exec form or shell words."""
    if argument.startswith("["):
        return json.loads(argument)
    return shlex.split(argument)


def copy_sources(path):
    """(stage, [source paths], destination) of every COPY/ADD not taken from another stage."""
    out = []
    for stage, keyword, argument in instructions(path):
        if keyword not in ("COPY", "ADD"):
            continue
        parts = [p for p in words(argument) if not p.startswith("--chown") and not p.startswith("--chmod")]
        if any(p.startswith("--from") for p in parts):
            continue
        out.append((stage, parts[:-1], parts[-1]))
    return out


def dockerignore_patterns():
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]


def ignored(relative):
    """Whether .dockerignore drops `relative` (or one of its parents) from the build context."""
    parts = Path(relative).parts
    for pattern in dockerignore_patterns():
        bare = pattern[3:] if pattern.startswith("**/") else pattern
        for i in range(len(parts)):
            prefix = "/".join(parts[: i + 1])
            if fnmatch.fnmatch(prefix, pattern) or (pattern.startswith("**/") and fnmatch.fnmatch(parts[i], bare)):
                return True
    return False


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCKETSHARK_")}
    env.update(extra or {})
    return env


def daemon_check(config, env):
    if not BINARY.exists():
        pytest.fail(f"{BINARY} does not exist: build it first or set SOCKETSHARK_BINARY")
    return subprocess.run([str(BINARY), "-c", str(config), "--check"], capture_output=True, text=True,
                          env=clean_env(env), timeout=60)


DOCKERFILES = [DOCKER / "Dockerfile", DOCKER / "examples.Dockerfile"]


# -- Dockerfiles -------------------------------------------------------------------

@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_copy_sources_exist_and_are_in_the_build_context(dockerfile):
    copies = copy_sources(dockerfile)
    assert copies, f"{dockerfile.name} copies nothing"
    for _, sources, _ in copies:
        for source in sources:
            assert (ROOT / source).exists(), f"{dockerfile.name}: COPY {source}: no such file in the repository"
            if source not in (".", "./"):
                assert not ignored(source.rstrip("/")), f"{dockerfile.name}: COPY {source} is excluded by .dockerignore"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_debian_12_slim_base(dockerfile):
    steps = instructions(dockerfile)
    default = [a for s, k, a in steps if k == "ARG" and a.startswith("DEBIAN_IMAGE=")]
    assert default == ["DEBIAN_IMAGE=debian:bookworm-slim"]
    froms = [a.split()[0] for s, k, a in steps if k == "FROM"]
    assert froms and all(f == "${DEBIAN_IMAGE}" for f in froms), froms


def test_build_stage_uses_the_readme_install_script_then_cmake_release():
    steps = instructions(DOCKER / "Dockerfile")
    stages = [a for s, k, a in steps if k == "FROM"]
    assert len(stages) == 2 and stages[0].endswith(" AS build"), stages
    build_runs = " ".join(a for s, k, a in steps if s == 0 and k == "RUN")
    # The same script, the same way, as README's set-up command and CI.
    assert re.search(r"(^|\s)scripts/install-deps\.sh(\s|&&|$)", build_runs), build_runs
    readme = (ROOT / "README.md").read_text()
    assert "scripts/install-deps.sh &&" in readme
    assert "scripts/install-deps.sh" in (ROOT / ".ci" / "run").read_text()
    assert "-DCMAKE_BUILD_TYPE=Release" in build_runs
    assert "-DSOCKETSHARK_TESTS=OFF" in build_runs
    assert "--target socketshark" in build_runs


def test_runtime_stage_installs_runtime_libraries_only_and_runs_as_non_root():
    steps = instructions(DOCKER / "Dockerfile")
    runtime = [(k, a) for s, k, a in steps if s == 1]
    runs = " ".join(a for k, a in runtime if k == "RUN")
    assert "install-deps.sh --runtime" in runs
    assert "--runtime" in (ROOT / "scripts" / "install-deps.sh").read_text()
    users = [a for k, a in runtime if k == "USER"]
    assert len(users) == 1, users
    user = users[0].split(":")[0]
    assert user not in ("root", "0", ""), users
    # The numeric user is the "socketshark" account created in the same stage.
    match = re.search(r"useradd [^&]*--uid (\d+)[^&]* socketshark(\s|$)", runs)
    assert match, runs
    assert match.group(1) == user
    copied_from_build = [a for k, a in runtime if k == "COPY" and "--from=build" in a]
    assert any("/usr/local/bin/socketshark" in a for a in copied_from_build)


def test_entrypoint_config_ports_and_healthcheck():
    steps = instructions(DOCKER / "Dockerfile")
    runtime = [(k, a) for s, k, a in steps if s == 1]
    entrypoint = [words(a) for k, a in runtime if k == "ENTRYPOINT"]
    cmd = [words(a) for k, a in runtime if k == "CMD"]
    assert entrypoint == [["/usr/local/bin/socketshark"]]
    assert cmd == [["-c", "/etc/socketshark/config.yaml"]]
    destinations = {dest: sources for s, sources, dest in copy_sources(DOCKER / "Dockerfile") if s == 1}
    assert destinations.get("/etc/socketshark/config.yaml") == ["docker/config.yaml"]
    exposed = " ".join(a for k, a in runtime if k == "EXPOSE").split()
    assert exposed == ["9000", "9090"]
    health = [a for k, a in runtime if k == "HEALTHCHECK"]
    assert len(health) == 1 and "/healthz" not in health[0]  # the script does the request
    script = words(health[0].split("CMD", 1)[1].strip())[0]
    assert destinations.get(script) == ["docker/healthcheck.sh"], script
    assert os.access(DOCKER / "healthcheck.sh", os.X_OK)
    assert "/healthz" in (DOCKER / "healthcheck.sh").read_text()


def test_shipped_container_config_is_valid_and_listens_on_all_interfaces():
    config = yaml.safe_load((DOCKER / "config.yaml").read_text())
    assert config["ws_host"] == "0.0.0.0" and config["ws_port"] == 9000
    assert config["metrics"]["prometheus"]["port"] == 9090
    result = daemon_check(DOCKER / "config.yaml", {})
    assert result.returncode == 0, result.stderr


def test_dockerignore_keeps_builds_and_git_out():
    patterns = dockerignore_patterns()
    for wanted in (".git", "build*", "**/node_modules"):
        assert wanted in patterns, patterns
    assert ignored("build") and ignored("build-release") and ignored(".git")
    assert ignored("tests/js/node_modules")
    for needed in ("CMakeLists.txt", "src", "include", "scripts/install-deps.sh", "docker/config.yaml"):
        assert not ignored(needed), needed


def test_test_script_is_executable_and_parses():
    script = DOCKER / "test.sh"
    assert os.access(script, os.X_OK)
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert "docker/Dockerfile" in text and "--network host" in text


# -- compose ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((DOCKER / "docker-compose.yml").read_text())


def chat_service_source():
    return (ROOT / "examples" / "chat_service.py").read_text()


def test_compose_services_build_from_the_repository(compose):
    services = compose["services"]
    assert set(services) == {"redis", "chat", "socketshark"}
    for name, service in services.items():
        build = service["build"]
        context = (DOCKER / build["context"]).resolve()
        assert context == ROOT, f"{name}: build context {context} is not the repository root"
        dockerfile = context / build["dockerfile"]
        assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"
        assert service.get("image"), f"{name}: name the image so that services can share it"
    assert services["socketshark"]["build"]["dockerfile"] == "docker/Dockerfile"
    assert services["chat"]["image"] == services["redis"]["image"]
    assert services["chat"]["build"] == services["redis"]["build"]


def test_compose_volumes_exist(compose):
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert (DOCKER / source).resolve().exists(), f"{name}: volume source {source} does not exist"


def test_compose_chat_service_command_matches_the_example(compose):
    command = compose["services"]["chat"]["command"]
    assert command[:2] == ["python3", "examples/chat_service.py"]
    workdir = [a for s, k, a in instructions(DOCKER / "examples.Dockerfile") if k == "WORKDIR"][-1]
    copied = {dest.rstrip("/"): sources for s, sources, dest in copy_sources(DOCKER / "examples.Dockerfile")}
    assert copied.get("examples") == ["examples/"], (workdir, copied)
    assert (ROOT / "examples" / "chat_service.py").is_file()
    source = chat_service_source()
    for flag in (arg for arg in command if arg.startswith("--")):
        assert f'"{flag}"' in source, f"examples/chat_service.py has no {flag} option"
    # The page loads the browser client from clients/js next to examples/.
    assert copied.get("clients/js") == ["clients/js/"]
    redis_url = command[command.index("--redis-url") + 1]
    assert urlparse(redis_url).hostname in compose["services"]


def test_compose_daemon_environment_is_accepted_and_points_at_the_services(compose):
    daemon = compose["services"]["socketshark"]
    env = {k: str(v) for k, v in daemon["environment"].items()}
    assert all(k.startswith("SOCKETSHARK_") for k in env)
    assert env["SOCKETSHARK_REDIS__HOST"] in compose["services"]
    mount = next(v for v in daemon["volumes"] if v.split(":")[1] == "/etc/socketshark/config.yaml")
    config = (DOCKER / mount.split(":")[0]).resolve()
    result = daemon_check(config, env)
    assert result.returncode == 0, f"the daemon refuses the compose configuration:\n{result.stderr}"

    routes = set(re.findall(r'@routes\.post\("([^"]+)"\)', chat_service_source()))
    urls = {k: v for k, v in env.items() if v.startswith("http")}
    assert urls, "no callback URL points at the chat service"
    for name, url in urls.items():
        parsed = urlparse(url)
        assert parsed.hostname in compose["services"], f"{name}: {parsed.hostname} is not a compose service"
        assert parsed.path in routes, f"{name}: examples/chat_service.py has no POST {parsed.path}"
    # Every callback of the mounted config is redirected into the compose network.
    mounted = yaml.safe_load(config.read_text())
    chat = mounted["services"]["chat"]
    for key, value in chat.items():
        if isinstance(value, str) and value.startswith("http"):
            assert f"SOCKETSHARK_SERVICES__CHAT__{key.upper()}" in env, key
    if "ticket" in mounted.get("authentication", {}):
        assert "SOCKETSHARK_AUTHENTICATION__TICKET__VALIDATION_URL" in env


def test_compose_ports_match_the_image(compose):
    ports = compose["services"]["socketshark"]["ports"]
    assert "9000:9000" in ports and "9090:9090" in ports


def test_compose_stack_runner_knows_every_service_and_port(compose):
    """docker/compose_stack.py (run by docker/test.sh) moves each service to a
    free loopback port: it must know every service and every published port."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("compose_stack", DOCKER / "compose_stack.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert set(module.LISTENS) == set(compose["services"])
    for name, service in compose["services"].items():
        for mapping in service.get("ports", []):
            container_port = int(str(mapping).split(":")[-1])
            assert container_port in module.LISTENS[name], (name, mapping)
    assert module.start_order(compose["services"]) == ["redis", "chat", "socketshark"]
    assert "compose_stack.py" in (DOCKER / "test.sh").read_text()
