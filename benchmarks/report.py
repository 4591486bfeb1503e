"""What a benchmark reports: tables, target verdicts and notes, printed and rendered as Markdown."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Verdict:
    """One target: passed, failed, or not measured (`passed` None), with the figures behind it."""

    target: str
    passed: bool | None
    detail: str

    @property
    def label(self) -> str:
        return {True: "PASS", False: "FAIL", None: "NOT MEASURED"}[self.passed]


@dataclass
class Section:
    key: str
    title: str
    tables: list[Table] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def table(self, title: str, headers: list[str], rows: list[list[str]]) -> None:
        self.tables.append(Table(title, headers, rows))

    def verdict(self, target: str, passed: bool | None, detail: str) -> None:
        self.verdicts.append(Verdict(target, passed, detail))

    def note(self, text: str) -> None:
        self.notes.append(text)


def _widths(table: Table) -> list[int]:
    columns = [table.headers, *table.rows]
    return [max(len(row[i]) for row in columns) for i in range(len(table.headers))]


def text_table(table: Table) -> str:
    widths = _widths(table)

    def line(cells: list[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([table.title, line(table.headers), rule, *map(line, table.rows)])


def text_section(section: Section) -> str:
    parts = [f"== {section.title} ({section.seconds:.0f} s) =="]
    parts += [text_table(table) + "\n" for table in section.tables]
    parts += [f"[{v.label}] {v.target}: {v.detail}" for v in section.verdicts]
    parts += [f"note: {note}" for note in section.notes]
    return "\n".join(parts)


def markdown_table(table: Table) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    separator = "|" + "|".join("---" for _ in table.headers) + "|"
    return (
        "\n".join([f"**{table.title}**", "", line(table.headers), separator])
        + "\n"
        + "\n".join(map(line, table.rows))
    )


def markdown_section(section: Section, run_line: str) -> str:
    parts = [f"### {section.title}", "", run_line, ""]
    for table in section.tables:
        parts += [markdown_table(table), ""]
    if section.verdicts:
        parts += ["Targets:", ""]
        parts += [f"- **{v.label}** {v.target}: {v.detail}" for v in section.verdicts]
        parts.append("")
    if section.notes:
        parts += ["Notes:", ""]
        parts += [f"- {note}" for note in section.notes]
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"
