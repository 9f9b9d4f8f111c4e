from __future__ import annotations

import pytest

from pyk8s.images.build import dockerfile


def test_parse_stages_lines_and_forms() -> None:
    df = dockerfile.parse(
        "# syntax=docker/dockerfile:1\n"
        "ARG BASE=busybox\n"
        "\n"
        "FROM ${BASE} AS Build\n"
        "RUN echo a \\\n"
        "  # a comment inside\n"
        "  && echo b\n"
        'CMD ["sh", "-c", "echo hi"]\n'
        "COPY --from=build --chown=1:2 a b /dst/\n"
        "FROM scratch\n"
        "ENTRYPOINT echo not json [\n"
    )
    assert [a.args for a in df.global_args] == ["BASE=busybox"]
    first, second = df.stages
    assert (first.base, first.name, first.line) == ("${BASE}", "build", 4)
    run, cmd, copy = first.instructions
    assert (run.cmd, run.args, run.line) == ("RUN", "echo a && echo b", 5)
    assert cmd.json == ["sh", "-c", "echo hi"]
    assert copy.flags == {"from": "build", "chown": "1:2"} and copy.args == "a b /dst/"
    assert second.instructions[0].json is None


def test_escape_directive() -> None:
    df = dockerfile.parse("# escape=`\nFROM scratch\nCOPY a `\n  c:\\dir\\\n")
    assert df.escape == "`"
    assert df.stages[0].instructions[0].args == "a c:\\dir\\"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "FROM busybox\nFOO bar\n", "Dockerfile:2: unknown instruction: FOO", id="unknown"
        ),
        pytest.param(
            "RUN true\n", "Dockerfile:1: no build stage in current context", id="before-from"
        ),
        pytest.param("# nothing\n", "has no FROM", id="no-from"),
        pytest.param("FROM a AS 1bad\n", "invalid name for build stage", id="stage-name"),
        pytest.param("FROM a b\n", "FROM requires either one or three arguments", id="from-args"),
        pytest.param(
            "FROM a\nCOPY --frm=x a b\n", "Dockerfile:2: unknown flag: --frm for COPY", id="flag"
        ),
        pytest.param(
            "FROM a\nRUN\n", "Dockerfile:2: RUN requires at least one argument", id="empty-run"
        ),
    ],
)
def test_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(dockerfile.DockerfileError, match=message):
        dockerfile.parse(text)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("$A", "1"),
        ("${A}x", "1x"),
        ("${NOPE:-def}", "def"),
        ("${EMPTY:-def}", "def"),
        ("${EMPTY-def}", ""),
        ("${A:+set}", "set"),
        ("${NOPE:+set}", ""),
        ("'$A'", "$A"),
        ('"$A b"', "1 b"),
        ("\\$A", "$A"),
        ("$", "$"),
        ("${NOPE:-${A}}", "1"),
    ],
)
def test_expand(word: str, expected: str) -> None:
    assert dockerfile.expand(word, {"A": "1", "EMPTY": ""}) == expected


def test_words_and_key_values() -> None:
    env = {"D": "/app"}
    assert dockerfile.words('a "b c" $D/x', env) == ["a", "b c", "/app/x"]
    assert dockerfile.key_values('A=1 B="two words" C=$D', env, "\\", "ENV") == [
        ("A", "1"),
        ("B", "two words"),
        ("C", "/app"),
    ]
    assert dockerfile.key_values("KEY some value $D", env, "\\", "ENV") == [
        ("KEY", "some value /app")
    ]
    with pytest.raises(ValueError, match="blank"):
        dockerfile.key_values("=x", env, "\\", "ENV")
    with pytest.raises(ValueError, match="unmatched"):
        dockerfile.words('"open', env)


def test_heredocs_and_their_errors() -> None:
    df = dockerfile.parse("FROM a\nRUN <<EOF\necho a\nEOF\nCOPY <<-X /f\n\tz\n\tX\nRUN true\n")
    run, copy, last = df.stages[0].instructions
    assert run.heredocs == [("EOF", "echo a\n")]
    assert copy.heredocs == [("X", "z\n")]
    assert (last.args, last.line) == ("true", 8)
    with pytest.raises(
        dockerfile.DockerfileError, match="Dockerfile:2: unterminated here-document <<EOF"
    ):
        dockerfile.parse("FROM a\nRUN <<EOF\necho a\n")


def test_platform_args_expand_in_from() -> None:
    from pyk8s.images import manifest
    from pyk8s.images.build import builder

    df = dockerfile.parse("ARG TAG=1\nFROM --platform=$BUILDPLATFORM base-$TARGETARCH:$TAG\n")
    assert builder.base_images(df, {"TAG": "2"}) == [
        f"base-{manifest.host_platform().architecture}:2"
    ]
