"""Problems found in manifests or secrets: located, never raised part-way through a check."""

from __future__ import annotations

from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int  # 1-based; 0 when the problem is about the whole file
    column: int
    path: str  # JSON path such as $.spec.ports[0].hostPort, "" for file-level problems
    message: str
    severity: str = ERROR

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def format(self) -> str:
        where = self.file if self.line == 0 else f"{self.file}:{self.line}:{self.column}"
        prefix = "" if self.severity == ERROR else f"{self.severity}: "
        if self.path:
            return f"{where}: {self.path}: {prefix}{self.message}"
        return f"{where}: {prefix}{self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "severity": self.severity,
            "message": self.message,
        }


def json_path(parts: tuple[str | int, ...] | list[str | int]) -> str:
    """('spec', 'ports', 0, 'hostPort') -> $.spec.ports[0].hostPort"""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.replace("_", "").replace("-", "").isalnum() and part.isascii():
            out += f".{part}"
        else:
            out += "[" + repr(part) + "]"
    return out


