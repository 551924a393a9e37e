"""The HTML report parsed back into a small DOM, and the checks every report page must pass.

Shared by the report tests (tests/output/report/).
"""

from __future__ import annotations

import html
import json
from html.parser import HTMLParser

MAX_BYTES = 10_000_000  # a page must stay below this, whatever the run
VOID = {"meta", "br", "hr", "img", "link", "input", "source", "wbr", "col", "area", "base"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def walk(self):
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.walk()

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list:
        return [
            n
            for n in self.walk()
            if (tag is None or n.tag == tag)
            and (cls is None or cls in n.classes())
            and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]

    def find(self, *args, **kwargs) -> Node:
        found = self.find_all(*args, **kwargs)
        assert len(found) == 1, (args, kwargs, len(found))
        return found[0]


class Tree(HTMLParser):
    """A small DOM: enough to find tables, cells, scripts and attributes."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.cur = self.root
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_endtag(self, tag):
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        assert n is not self.root, f"stray </{tag}>"
        self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def esc(text: str) -> str:
    """What a user string must look like inside figure JSON (plotly decodes it back)."""
    return html.escape(text, quote=False)


def plot_specs(tree: Node) -> dict[str, dict]:
    return {
        s.attrs["data-plot"]: json.loads(s.text)
        for s in tree.find_all("script")
        if "data-plot" in s.attrs
    }


def check_offline_and_single_plotly(page: str, tree: Node):
    assert page.count("* plotly.js v") == 1  # the bundle's banner: embedded exactly once
    assert not list(tree.find_all("link"))
    assert not list(tree.find_all("iframe")) and not list(tree.find_all("img"))
    for node in tree.walk():
        for attr in ("src", "href", "srcset", "action", "data"):
            value = (node.attrs.get(attr) or "").strip().lower()
            assert not value.startswith(("http:", "https:", "//", "ftp:")), (node.tag, value)
        if node.tag == "script":
            assert "src" not in node.attrs
    executable = [s for s in tree.find_all("script") if s.attrs.get("type") is None]
    assert len(executable) == 2  # plotly.js and the page's own small script
    style = "".join(s.text for s in tree.find_all("style"))
    assert "@import" not in style and "url(" not in style  # no fonts or images to fetch
    for spec_script in (s for s in tree.find_all("script") if "data-plot" in s.attrs):
        assert "</" not in spec_script.text and "<!--" not in spec_script.text
