"""The results document's blocks rendered as Markdown and as one self-contained HTML file, with Jinja2.

Every text passes through :func:`scaleperf.report.redact.scrub_text` on its way into either file.
"""

from __future__ import annotations

import base64
import html

import jinja2

from scaleperf.report import tables
from scaleperf.report.blocks import Block, Bullets, Heading, Image, Links, Para, Table
from scaleperf.report.redact import scrub_text

CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1, h2, h3 { line-height: 1.2; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } caption { text-align: left; font-style: italic; padding: .3em 0; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; } figcaption { font-size: .85em; color: #555; }
pre { background: #f6f6f6; padding: .6em; white-space: pre-wrap; }
"""

MARKDOWN = """\
{%- for b in blocks -%}
{%- if not loop.first %}

{% endif -%}
{%- if b is heading -%}{{ "#" * b.level }} {{ b.text | scrub }}
{%- elif b is para -%}{{ b.text | scrub }}
{%- elif b is bullets -%}{% for i in b.items %}- {{ i | scrub }}{% if not loop.last %}
{% endif %}{% endfor %}
{%- elif b is links -%}{% for text, href in b.items %}- [{{ text | scrub }}]({{ href }}){% if not loop.last %}
{% endif %}{% endfor %}
{%- elif b is table -%}{% for line in b.caption.splitlines() %}*{{ line | scrub }}*

{% endfor %}{{ b | md_table }}
{%- elif b is image -%}![{{ b.caption | scrub }}]({{ figures_dir }}/{{ b.name }}.png)
{%- endif -%}
{%- endfor %}
"""

HTML = """\
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title | scrub | e }}</title><style>{{ css }}</style></head>
<body>
{% for b in blocks -%}
{%- if b is heading -%}<h{{ b.level }}>{{ b.text | code }}</h{{ b.level }}>
{%- elif b is para -%}<p>{{ b.text | code }}</p>
{%- elif b is bullets -%}<ul>{% for i in b.items %}<li>{{ i | code }}</li>{% endfor %}</ul>
{%- elif b is links -%}<ul>{% for text, href in b.items %}<li><a href="{{ href | e }}">{{ text | code }}</a></li>{% endfor %}</ul>
{%- elif b is table -%}{{ b | html_table }}
{%- elif b is image -%}{% set alt = b.caption | scrub | e %}<figure><img src="data:image/png;base64,{{ b.png | b64 }}" \
alt="{{ alt }}"><figcaption>{{ alt }}</figcaption></figure>
{%- endif %}
{% endfor -%}
</body></html>
"""


def _inline_code(text: str) -> str:
    """Escape ``text`` for HTML, turning `backticks` into <code>."""
    pieces = html.escape(scrub_text(text)).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(pieces))


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(autoescape=False, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.tests.update(
        heading=lambda b: isinstance(b, Heading),
        para=lambda b: isinstance(b, Para),
        bullets=lambda b: isinstance(b, Bullets),
        links=lambda b: isinstance(b, Links),
        table=lambda b: isinstance(b, Table),
        image=lambda b: isinstance(b, Image),
    )
    env.filters.update(
        scrub=scrub_text,
        code=_inline_code,
        b64=lambda png: base64.b64encode(png).decode("ascii"),
        md_table=lambda t: tables.markdown(t.header, list(t.rows)),
        html_table=lambda t: tables.html_table(t.header, list(t.rows), t.caption),
    )
    return env


_ENV = _environment()


def to_markdown(blocks: list[Block], figures_dir: str) -> str:
    return _ENV.from_string(MARKDOWN).render(blocks=blocks, figures_dir=figures_dir).rstrip("\n") + "\n"


def to_html(blocks: list[Block], title: str) -> str:
    return _ENV.from_string(HTML).render(blocks=blocks, title=title, css=CSS)
