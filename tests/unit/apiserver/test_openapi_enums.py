"""Deriving OpenAPI enums from Go sources, and applying them to OpenAPI definitions."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyk8s.apiserver import openapi_enums

SHAPES = """package v1

// Mode is how a widget turns.
// +enum
type Mode string

const (
	// ModeFast turns it
	// quickly,   really.
	ModeFast Mode = "Fast"

	ModeSlow Mode = "Slow"
	// ModeDup repeats a value: the first constant wins.
	ModeDup Mode = "Fast"
)

// Shade has constants but is no enum.
type Shade string

const ShadeRed Shade = "Red"

// A single const with its own doc.
const ModeOff = Mode("Off")

type ModeAlias = Mode

type Base struct {
	// How it turns.
	Mode *Mode `json:"mode,omitempty" protobuf:"bytes,1,opt,name=mode"`
}

type Widget struct {
	Base `json:",inline"`
	// Turning, as an alias.
	Other ModeAlias `json:"other"`
	// Listed modes get no enum.
	Modes []Mode `json:"modes"`
	ByName map[string]Mode `json:"byName"`
	Shade Shade `json:"shade"`
	// Documented up to the rule.
	// ---
	// Not documented.
	Ruled Mode `json:"ruled"`
	Skipped Mode `json:"-"`
	Nested struct {
		Inner Mode `json:"inner"`
	} `json:"nested"`
}
"""

OTHER = """package v2

import (
	core "example.io/api/shapes/v1"
)

type Gadget struct {
	Mode core.Mode `json:"mode"`
}
"""


@pytest.fixture
def src(tmp_path: Path) -> Path:
    (tmp_path / "k8s.io/api/shapes/v1").mkdir(parents=True)
    (tmp_path / "k8s.io/api/shapes/v1/types.go").write_text(SHAPES)
    (tmp_path / "k8s.io/api/shapes/v1/types_test.go").write_text(
        'package v1\n\nconst ModeTest Mode = "Test"\n'
    )
    (tmp_path / "k8s.io/api/shapes/v2").mkdir(parents=True)
    (tmp_path / "k8s.io/api/shapes/v2/types.go").write_text(
        OTHER.replace("example.io/api", "k8s.io/api")
    )
    return tmp_path


MODE_LINES = [
    ' - `"Fast"` turns it quickly, really.',
    ' - `"Off"` A single const with its own doc.',
    ' - `"Slow"`',
]


def test_derive_follows_openapi_gen(src: Path) -> None:
    enums = openapi_enums.derive(src)
    mode = {"enum": ["Fast", "Off", "Slow"], "lines": MODE_LINES}
    assert enums == {
        "io.k8s.api.shapes.v1.Base": {"mode": mode},
        "io.k8s.api.shapes.v1.Widget": {
            "mode": mode,
            "other": mode,
            "ruled": {"enum": ["Fast", "Off", "Slow"], "lines": []},
        },
        "io.k8s.api.shapes.v2.Gadget": {"mode": mode},
    }


@pytest.mark.parametrize(
    ("current", "lines", "expected"),
    [
        pytest.param(
            "How it turns.",
            [' - `"A"` a', ' - `"B"`'],
            'How it turns.\n\nPossible enum values:\n - `"A"` a\n - `"B"`',
            id="appended-paragraph",
        ),
        pytest.param(None, [' - `"A"`'], 'Possible enum values:\n - `"A"`', id="no-description"),
        pytest.param("Ruled.", [], "Ruled.", id="doc-stops-at-rule"),
    ],
)
def test_description(current: str | None, lines: list[str], expected: str) -> None:
    assert openapi_enums.description(current, lines) == expected


def test_apply_only_to_string_properties() -> None:
    components = {
        "io.k8s.api.shapes.v1.Widget": {
            "properties": {
                "mode": {"type": "string", "description": "How."},
                "count": {"type": "integer"},
            }
        }
    }
    original = components["io.k8s.api.shapes.v1.Widget"]["properties"]["mode"]
    info = {"enum": ["A", "B"], "lines": [' - `"A"`', ' - `"B"`']}
    openapi_enums.apply(
        components,
        {
            "io.k8s.api.shapes.v1.Widget": {"mode": info, "count": info, "gone": info},
            "io.k8s.api.shapes.v1.Missing": {"mode": info},
        },
    )
    props = components["io.k8s.api.shapes.v1.Widget"]["properties"]
    assert props["mode"] == {
        "type": "string",
        "description": 'How.\n\nPossible enum values:\n - `"A"`\n - `"B"`',
        "enum": ["A", "B"],
    }
    assert props["count"] == {"type": "integer"}
    assert original == {"type": "string", "description": "How."}  # not mutated


def test_main_writes_json_and_refuses_an_empty_tree(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "enums.json"
    assert openapi_enums.main([str(src), str(out)]) == 0
    assert openapi_enums.load(out) == openapi_enums.derive(src)
    assert openapi_enums.main([str(tmp_path / "nothing"), str(out)]) == 1
    assert openapi_enums.load(tmp_path / "absent.json") is None


HOLDER = """package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type Holder struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Plain Base `json:"plain,omitempty"`
	Pointer *Base `json:"pointer,omitempty"`
	List []Base `json:"list,omitempty"`
	Required []Base `json:"required"`
	Names NameList `json:"names,omitempty"`
}

type NameList []string
"""


def test_zero_fields_are_what_the_go_zero_value_holds(src: Path) -> None:
    (src / "k8s.io/api/shapes/v1/holder.go").write_text(HOLDER)
    zero = openapi_enums.derive_zero_fields(src)
    assert zero["io.k8s.api.shapes.v1.Holder"] == ["metadata", "plain", "required"]
    assert zero["io.k8s.api.shapes.v1.Widget"] == ["byName", "modes", "other", "ruled", "shade"]
    assert zero["io.k8s.api.shapes.v1.Base"] == []


def test_derive_go_fields(src: Path) -> None:
    # how encoding/json writes each field: pointers, omitempty, plain structs
    (src / "k8s.io/api/shapes/v1/more.go").write_text(
        "package v1\n\n"
        'import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"\n'
        'import "k8s.io/apimachinery/pkg/types"\n\n'
        "type Holder struct {\n"
        '\tmetav1.TypeMeta `json:",inline"`\n'
        '\tUID types.UID `json:"uid,omitempty"`\n'
        '\tCount int32 `json:"count"`\n'
        '\tSize *int32 `json:"size,omitempty"`\n'
        '\tPicked *Base `json:"picked"`\n'
        '\tBase Base `json:"base,omitempty"`\n'
        '\tNames []string `json:"names,omitempty"`\n'
        '\tTags map[string]string `json:"tags"`\n'
        '\tHost bool `json:"host,omitempty"`\n'
        "}\n"
    )
    codes = openapi_enums.derive_go_fields(src)
    assert codes["io.k8s.api.shapes.v1.Holder"] == {
        "uid": "o",
        "count": "z",
        "size": "p",
        "picked": "P",
        "base": "s",
        "names": "o",
        "tags": "z",
        "host": "o",
    }
    assert codes["io.k8s.api.shapes.v1.Base"] == {"mode": "p"}
