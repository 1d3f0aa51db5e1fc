#!/usr/bin/env python
"""Build the gan_notes website (and README.md) offline, with pandoc and without Quarto.

`nbdev_docs` needs Quarto, which is not available offline. This tool renders the same input Quarto would get:

1. `nbdev.serve.proc_nbs` processes every notebook in `nbs/` into `_proc/` (nbdev's own processors: `#| hide` and
   `#| export` cells dropped, `show_doc` cells executed into markdown outputs, the first `# Title` and `> description`
   turned into front matter);
2. each processed notebook becomes one pandoc-markdown document (code cells, saved outputs, plots as embedded PNGs);
3. pandoc turns it into one self-contained HTML page in `_docs/` (math as MathML, images and CSS embedded, a sidebar
   of all pages in notebook order, a table of contents). `index.ipynb` becomes `index.html`; other notebooks get the
   page name nbdev gives them (`output-file` in their front matter, e.g. `00_data.ipynb` -> `data.html`).

The Quarto cell options that nbdev leaves in the processed notebooks are honoured: `#| echo: false` (hide the code),
`#| output: false` (hide the outputs), `#| include: false` (hide the cell), `#| code-fold: true|show` (fold the code),
`#| warning: false` (hide stderr). Widget outputs cannot be shown without a kernel and are skipped.

Links are made to work where each output is read:

- on the site, links to notebooks (`00_data.ipynb`) point at their pages (`data.html`), and links into the published site
  (`doc_host` + `doc_baseurl` of settings.ini, e.g. the doc links nbdev adds to `show_doc` output) at the local pages, so
  the offline build never sends a reader online;
- in `show_doc` signatures (code blocks), the links and backticks that nbdev and docments leave in the argument comments
  become real links and code spans in the highlighted code instead of raw markdown; `__main__.` in rendered types (nbdev runs
  the notebook's code in `__main__`) becomes the notebook's module (`gan_notes.metrics.`);
- in README.md (also the PyPI long description), relative links become absolute GitHub links (`git_url` + `/blob/BRANCH/nbs/...`)
  and images absolute raw URLs (`raw.githubusercontent.com/...`), which work on GitHub, on PyPI and in any copy.

Once every page is written, each link to an anchor that its page lacks (nbdev links every backticked name it knows, but
only names rendered by `show_doc` get an anchor) is pointed at the documented class of a method, or else made plain text,
so that no link dangles (`fix_anchors`).

Every page ends with links to the previous and the next page; long code lines wrap. Below 50rem the sidebar hides and a
"Pages" button in the top bar shows it over the page.

With `--readme`, it instead writes README.md (GitHub-flavoured markdown, math kept as `$...$`) from the notebook
named by `readme_nb` in settings.ini (`nbs/index.ipynb`), the way `nbdev_readme` would.

Usage (from anywhere inside the repository):

    python tools/build_docs.py              # _docs/*.html
    python tools/build_docs.py --readme     # README.md
    python tools/check_docs.py              # then check the pages in a headless browser
"""
import argparse, base64, html, json, os, posixpath, re, shutil, subprocess, sys, tempfile, time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

ROOT = Path(__file__).resolve().parent.parent

CSS = r"""
:root { --side: 16rem; --fg: #1f2328; --muted: #59636e; --accent: #b5361c; --line: #d8dee4; --code-bg: #f6f8fa; }
* { box-sizing: border-box; }
html { font-size: 16px; }
body { margin: 0; color: var(--fg); background: #fff; line-height: 1.6;
       font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans", "DejaVu Sans", Helvetica, Arial, sans-serif; }
a { color: #0b5cad; text-decoration: none; }
a:hover { text-decoration: underline; }
.topbar { position: sticky; top: 0; z-index: 2; height: 3rem; display: flex; align-items: center; gap: 1rem;
          padding: 0 1.25rem; background: #24292f; color: #fff; }
.topbar a.brand { color: #fff; font-weight: 650; font-size: 1.1rem; }
.topbar .tagline { color: #c9d1d9; font-size: .85rem; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.layout { display: flex; align-items: flex-start; }
nav.sidebar { position: sticky; top: 3rem; flex: 0 0 var(--side); height: calc(100vh - 3rem); overflow-y: auto;
              padding: 1.25rem .75rem; border-right: 1px solid var(--line); background: #fafbfc; font-size: .92rem; }
nav.sidebar ol { list-style: none; margin: 0; padding: 0; }
nav.sidebar li a { display: block; padding: .3rem .6rem; border-radius: 6px; color: var(--fg); }
nav.sidebar li a:hover { background: #eef1f4; text-decoration: none; }
nav.sidebar li a.active { background: #e7ecf2; color: var(--accent); font-weight: 600; }
nav.sidebar code { font-size: .85em; }
nav.sidebar .num { display: inline-block; min-width: 1.6rem; color: var(--muted); font-variant-numeric: tabular-nums; }
main { flex: 1 1 auto; min-width: 0; max-width: 62rem; padding: 1.5rem 2.5rem 4rem; }
nav.toc { position: sticky; top: 3rem; flex: 0 0 14rem; max-height: calc(100vh - 3rem); overflow-y: auto;
          padding: 1.5rem 1rem; font-size: .85rem; }
nav.toc .toc-title { font-weight: 600; color: var(--muted); margin-bottom: .4rem; }
nav.toc ul { list-style: none; padding-left: .8rem; margin: 0; border-left: 1px solid var(--line); }
nav.toc li { margin: .15rem 0; }
nav.toc a { color: var(--muted); }
@media (max-width: 92rem) { nav.toc { display: none; } }
.menu-button { display: none; }
@media (max-width: 50rem) {
  nav.sidebar { display: none; } main { padding: 1rem; }
  .topbar { padding: 0 .75rem; }
  .menu-button { display: inline-block; flex: 0 0 auto; background: none; color: #fff; border: 1px solid #6e7781; border-radius: 6px;
                 padding: .15rem .6rem; font: inherit; font-size: .9rem; cursor: pointer; }
  .menu-button:hover, .menu-button:focus-visible { background: #32383f; }
  body.nav-open nav.sidebar { display: block; position: fixed; top: 3rem; left: 0; bottom: 0; z-index: 3; height: auto;
                              width: min(20rem, 85vw); box-shadow: 0 0 1.5rem rgba(0, 0, 0, .3); }
}
header.page-header { border-bottom: 1px solid var(--line); margin-bottom: 1.5rem; padding-bottom: .75rem; }
header.page-header h1 { margin: 0 0 .4rem; font-size: 2.2rem; line-height: 1.2; }
p.description { margin: 0; font-size: 1.2rem; color: var(--muted); font-style: italic; }
h2 { margin-top: 2.2rem; padding-bottom: .25rem; border-bottom: 1px solid var(--line); font-size: 1.5rem; }
h3 { margin-top: 1.6rem; font-size: 1.2rem; }
code { font-family: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .88em; }
:not(pre) > code { background: var(--code-bg); padding: .1em .3em; border-radius: 4px; }
pre { margin: 0; padding: .7rem .9rem; overflow-x: auto; line-height: 1.45; font-size: .95em; }
div.sourceCode, pre.cell-code, .cell > pre { background: var(--code-bg); border: 1px solid var(--line); border-radius: 6px; margin: 0; }
div.sourceCode pre { background: none; border: none; }
.cell { margin: 1rem 0 1.25rem; }
.cell-output { margin: .35rem 0 0 .8rem; border-left: 2px solid lightsalmon; padding-left: .6rem; overflow-x: auto; }
.cell-output pre { padding: .35rem .5rem; background: none; }
.cell-output-stderr pre { color: #8a4b00; }
.cell-output-error pre { color: #b00020; }
.cell-output-display { border-left-color: #c8d1da; }
.cell-output-display > hr:first-child { display: none; }
.cell-output-display h3, .cell-output-display h4 { margin-top: .4rem; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
.cell-output img { max-width: 100%; height: auto; }
img { max-width: 100%; height: auto; }
details.code-fold > summary { cursor: pointer; color: var(--muted); font-size: .9rem; margin-bottom: .3rem; }
table { border-collapse: collapse; margin: 1rem 0; font-size: .92rem; display: block; overflow-x: auto; }
th, td { border: 1px solid var(--line); padding: .35rem .6rem; vertical-align: top; }
th { background: #f3f5f7; }
tr:nth-child(even) td { background: #fbfcfd; }
blockquote { margin: 1rem 0; padding: .2rem 1rem; border-left: 4px solid var(--line); color: var(--muted); }
math[display="block"] { margin: .8rem 0; overflow-x: auto; overflow-y: hidden; }
math { font-size: 1.05em; }
.footer { margin-top: 3rem; padding-top: .8rem; border-top: 1px solid var(--line); color: var(--muted); font-size: .85rem; }
nav.pager { display: flex; justify-content: space-between; gap: 1rem; margin-top: 3rem; padding-top: 1rem;
            border-top: 1px solid var(--line); }
nav.pager a { display: block; max-width: 48%; padding: .5rem .8rem; border: 1px solid var(--line); border-radius: 6px; }
nav.pager a:hover { background: #f3f5f7; text-decoration: none; }
nav.pager a.next { margin-left: auto; text-align: right; }
nav.pager .dir { display: block; color: var(--muted); font-size: .8rem; }
code span.sig-code { color: #0550ae; }
code a.sig-link { color: #0b5cad; text-decoration: underline; text-decoration-color: #9ec2e6; }
"""

TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta name="generator" content="tools/build_docs.py (nbdev proc_nbs + pandoc)" />
<meta name="viewport" content="width=device-width, initial-scale=1.0" />
$if(description-meta)$
<meta name="description" content="$description-meta$" />
$endif$
<title>$pagetitle$ – $site$</title>
<style>
$inline-css$
$highlighting-css$
$wrap-css$
</style>
</head>
<body>
<header class="topbar"><button type="button" class="menu-button" aria-controls="pages" aria-expanded="false"
 onclick="this.setAttribute('aria-expanded', document.body.classList.toggle('nav-open'))">&#9776; Pages</button><a class="brand" href="$home$">$site$</a><span class="tagline">$tagline$</span></header>
<div class="layout">
<nav class="sidebar" id="pages" aria-label="Pages">
$sidebar$
</nav>
<main>
<header class="page-header">
<h1 class="title">$title$</h1>
$if(description)$
<p class="description">$description$</p>
$endif$
</header>
$body$
$pager$
<div class="footer">Built from <code>$source$</code> by <code>tools/build_docs.py</code>.</div>
</main>
$if(toc)$
<nav class="toc" aria-label="On this page"><div class="toc-title">On this page</div>
$table-of-contents$
</nav>
$endif$
</div>
</body>
</html>
"""

# After pandoc's highlighting CSS (which sets `white-space: pre`): long code lines wrap, with a hanging indent, instead of
# needing a horizontal scroll bar.
WRAP_CSS = r"""
pre > code.sourceCode { white-space: pre-wrap; overflow-wrap: anywhere; }
pre > code.sourceCode > span { display: inline-block; text-indent: -4ch; padding-left: 4ch; }
"""

_ANSI = re.compile(r'\x1b\[[0-9;?]*[A-Za-z]')
_DIRECTIVE = re.compile(r'^\s*#\s*\|\s?(.*)$')


def pandoc_path()->str:
    "Path of the pandoc binary shipped with `pypandoc_binary` (or any pandoc on PATH)."
    try:
        import pypandoc
        return pypandoc.get_pandoc_path()
    except (ImportError, OSError):
        p = shutil.which('pandoc')
        if p is None: sys.exit("build_docs: pandoc not found: pip install pypandoc_binary")
        return p


def run_pandoc(md:str, args:list, what:str)->str:
    "Run pandoc on markdown text `md` with `args`; print its warnings, prefixed with `what`; return stdout."
    r = subprocess.run([pandoc_path(), '-f', 'markdown', *args], input=md, capture_output=True, text=True, encoding='utf-8')
    for line in r.stderr.splitlines():
        if line.strip(): print(f"  pandoc [{what}]: {line}", file=sys.stderr)
    if r.returncode != 0: raise RuntimeError(f"pandoc failed on {what} (exit {r.returncode})")
    return r.stdout


def src(x)->str:
    "Notebook text fields are either a string or a list of lines."
    return ''.join(x) if isinstance(x, list) else (x or '')


def terminal_text(text:str)->str:
    "Stream text as Jupyter shows it: on each line, only what follows the last carriage return (a progress bar's last state)."
    text = re.sub(r'\r+\n', '\n', text)          # \r\n is a line end, not a return
    return '\n'.join(line.rsplit('\r', 1)[-1] for line in text.split('\n'))


def fence(text:str, attrs:str='')->str:
    "`text` as a fenced code block, with a fence longer than any backtick run inside it."
    n = max([3] + [len(m) + 1 for m in re.findall(r'`{3,}', text)])
    return f"{'`'*n}{attrs}\n{text.rstrip(chr(10))}\n{'`'*n}"


def split_directives(source:str):
    "Split the leading `#| ...` lines off a code cell: return ({option: value}, remaining source)."
    lines, opts, i = source.splitlines(), {}, 0
    while i < len(lines):
        m = _DIRECTIVE.match(lines[i])
        if m:
            k, sep, v = m.group(1).partition(':')
            opts[k.strip().lower()] = v.strip().strip('"\'').lower() if sep else ''
        elif lines[i].strip(): break
        i += 1
    return opts, '\n'.join(lines[i:]).strip('\n')


def frontmatter(nb:dict)->dict:
    "The YAML front matter that nbdev's processors put in the first raw cell (title, description, output-file)."
    for c in nb['cells']:
        if c['cell_type'] == 'raw':
            s = src(c['source']).strip()
            if s.startswith('---') and s.endswith('---'):
                return yaml.safe_load(s.strip('-').strip()) or {}
    return {}


_MD_LINK = re.compile(r'(!?\[[^\]\n]*\]\()([^)\s]+)')          # [text](target) and ![alt](target)
_HTML_LINK = re.compile(r'((?:href|src)=")([^"]+)')               # href="target", src="target"
_SIG_FENCE = re.compile(r'^```python\n(.*?)\n```', re.S | re.M)  # the signature block of a show_doc output
_SIG_COMMENT = re.compile(r'[,:(]\s*# ')                          # where a docments comment starts in a signature line
_SIG_MD_LINK = re.compile(r'\[(`?)([^\]`\n]+)\1\]\(([^)\s]+)\)')  # [`name`](url) or [name](url) in such a comment
_IMAGE_EXT = ('.png', '.jpg', '.jpeg', '.gif', '.svg', '.webp')


def raw_url(git_url:str, branch:str)->str:
    "Base URL of raw files for a GitHub `git_url` (https://github.com/OWNER/REPO -> https://raw.githubusercontent.com/OWNER/REPO/BRANCH/)."
    u = urlsplit(git_url)
    if u.netloc != 'github.com': return f"{git_url.rstrip('/')}/raw/{branch}/"
    return f"https://raw.githubusercontent.com{u.path.rstrip('/')}/{branch}/"


class Renderer:
    """Turn a processed notebook into pandoc markdown: `html=True` for the site, `False` for README.md (no divs).

    Site: `link_map` maps notebook file names to their pages, `doc_url` is the published site (its links become local),
    `module` replaces `__main__` in rendered types. README: `blob_base`/`raw_base` are the absolute URLs that relative links
    and images become (`nbs_dir`: where the notebook's relative links start from)."""
    def __init__(self, html:bool=True, media_dir:Path=None, link_map:dict=None, doc_url:str='', module:str='',
                 blob_base:str='', raw_base:str='', nbs_dir:str='nbs'):
        self.html,self.media_dir,self.link_map,self.doc_url = html,media_dir,link_map or {},doc_url.rstrip('/')
        self.module,self.blob_base,self.raw_base,self.nbs_dir = module,blob_base,raw_base,nbs_dir
        self.n_media, self.placeholders = 0, {}

    def link_target(self, t:str, image:bool=False)->str:
        "Where link target `t` should point in this output (see the class docstring)."
        if self.doc_url and (t == self.doc_url or t.startswith(self.doc_url + '/') or t.startswith(self.doc_url + '#')):
            rest = t[len(self.doc_url):].lstrip('/')                   # a page of the published site: its local copy
            return 'index.html' + rest if rest[:1] in ('', '#') else rest
        u = urlsplit(t)
        if u.scheme or u.netloc or t.startswith('#') or not u.path: return t
        frag = f'#{u.fragment}' if u.fragment else ''
        if not self.html and (self.blob_base or self.raw_base):       # README: absolute GitHub URLs
            path = posixpath.normpath(posixpath.join(self.nbs_dir, u.path))
            if path.startswith('../'): return t
            base = self.raw_base if image or path.lower().endswith(_IMAGE_EXT) else self.blob_base
            return base + path + frag
        if self.html and u.path.endswith('.ipynb'):
            return self.link_map.get(Path(u.path).name, u.path) + frag
        return t

    def fix_links(self, s:str)->str:
        "Point the markdown and HTML links of `s` where they work (`link_target`)."
        s = _MD_LINK.sub(lambda m: m.group(1) + self.link_target(m.group(2), m.group(1).startswith('!')), s)
        if self.doc_url:                                                 # <https://published.site/page.html> autolinks
            s = re.sub(r'<(https?://[^>\s]+)>', lambda m: m.group(0) if self.link_target(m.group(1)) == m.group(1)
                       else f'[{m.group(1)}]({self.link_target(m.group(1))})', s)
        return _HTML_LINK.sub(lambda m: m.group(1) + self.link_target(m.group(2), m.group(1).startswith('src')), s)

    def placeholder(self, html_text:str)->str:
        "A token that pandoc's highlighter leaves alone, replaced by `html_text` in the finished page (`restore`)."
        key = f"GNDOCREF{len(self.placeholders)}Z"
        self.placeholders[key] = html_text
        return key

    def restore(self, page:str)->str:
        "Put the HTML of every placeholder into the rendered `page`."
        for k in sorted(self.placeholders, key=len, reverse=True): page = page.replace(k, self.placeholders[k])
        return page

    def signature_comment(self, comment:str)->str:
        "A docments comment of a signature line: links and `code` rendered (site), or plain names (README)."
        def link(m):
            name, target = m.group(2), self.link_target(m.group(3))
            if not self.html: return f'`{name}`'
            return self.placeholder(f'<a class="sig-link" href="{html.escape(target, quote=True)}">{html.escape(name)}</a>')
        comment = _SIG_MD_LINK.sub(link, comment)
        if not self.html: return comment
        return re.sub(r'`([^`\n]+)`', lambda m: self.placeholder(f'<span class="sig-code">{html.escape(m.group(1))}</span>'), comment)

    def signature(self, md:str)->str:
        "In a show_doc output: the signature's argument comments rendered, and `__main__.` types given their module."
        if self.module: md = md.replace('__main__.', self.module + '.')
        def block(m):
            lines = []
            for line in m.group(1).split('\n'):
                c = _SIG_COMMENT.search(line)
                lines.append(line if not c else line[:c.end()] + self.signature_comment(line[c.end():]))
            return '```python\n' + '\n'.join(lines) + '\n```'
        return _SIG_FENCE.sub(block, md)

    def block(self, md:str, cls:str)->str:
        "Wrap `md` in a fenced div with classes `cls` (site only)."
        if not self.html: return md
        return f"::: {{{' '.join('.'+c for c in cls.split())}}}\n{md}\n:::"

    def image(self, mime:str, data, meta:dict)->str:
        "An image output: a data URI on the site, a file under the media dir for the README."
        b64 = data if isinstance(data, str) else src(data)
        if mime == 'image/svg+xml': b64 = base64.b64encode(src(data).encode()).decode()
        b64 = b64.replace('\n', '')
        w = (meta or {}).get(mime, {}).get('width') if isinstance((meta or {}).get(mime), dict) else None
        size = f' width="{int(w)}"' if w else ''
        if self.html: return f'```{{=html}}\n<img src="data:{mime};base64,{b64}"{size} alt="output image">\n```'
        self.n_media += 1
        ext = {'image/png':'png', 'image/jpeg':'jpg', 'image/gif':'gif', 'image/svg+xml':'svg'}[mime]
        self.media_dir.mkdir(parents=True, exist_ok=True)
        f = self.media_dir/f"output_{self.n_media}.{ext}"
        f.write_bytes(base64.b64decode(b64))
        return f"![]({self.raw_base}{f.relative_to(self.media_dir.parent).as_posix()})"  # absolute (raw URL) or relative to the README

    def output(self, o:dict, opts:dict)->str:
        "One cell output as markdown (empty string when there is nothing to show)."
        t = o.get('output_type')
        if t == 'stream':
            if o.get('name') == 'stderr' and opts.get('warning') == 'false': return ''
            text = terminal_text(_ANSI.sub('', src(o.get('text'))))
            if not text.strip(): return ''
            return self.block(fence(text), f"cell-output cell-output-{o.get('name', 'stdout')}")
        if t == 'error':
            tb = _ANSI.sub('', '\n'.join(o.get('traceback') or [f"{o.get('ename')}: {o.get('evalue')}"]))
            return self.block(fence(tb), 'cell-output cell-output-error')
        data, meta = o.get('data', {}), o.get('metadata', {})
        if 'application/vnd.jupyter.widget-view+json' in data: return ''  # needs a live kernel
        if 'text/markdown' in data:
            md = self.fix_links(self.signature(src(data['text/markdown']).strip('\n')))
            return self.block(md, 'cell-output cell-output-display')
        for mime in ('image/png', 'image/jpeg', 'image/gif', 'image/svg+xml'):
            if mime in data: return self.block(self.image(mime, data[mime], meta), 'cell-output cell-output-display')
        if 'text/html' in data: return self.block(fence(self.fix_links(src(data['text/html'])), '{=html}'), 'cell-output cell-output-display')
        if 'text/latex' in data: return self.block(src(data['text/latex']), 'cell-output cell-output-display')
        if 'text/plain' in data: return self.block(fence(_ANSI.sub('', src(data['text/plain']))), 'cell-output cell-output-display')
        return ''

    def code_cell(self, c:dict)->str:
        "A code cell: its source (unless hidden by its options) and its saved outputs."
        opts, code = split_directives(src(c['source']))
        if opts.get('include') == 'false': return ''
        parts = []
        if code.strip() and opts.get('echo') != 'false':
            s = fence(code, ' {.python .cell-code}' if self.html else ' python')
            fold = opts.get('code-fold')
            if self.html and fold in ('true', 'show'):
                s = f'```{{=html}}\n<details class="code-fold"{" open" if fold == "show" else ""}><summary>Code</summary>\n```\n\n{s}\n\n```{{=html}}\n</details>\n```'
            parts.append(s)
        if opts.get('output') != 'false':
            parts += [o for o in map(lambda o: self.output(o, opts), c.get('outputs', [])) if o]
        if not parts: return ''
        return self.block('\n\n'.join(parts), 'cell')

    def markdown_cell(self, c:dict)->str:
        "A markdown cell, with attachments inlined and links to notebooks pointed at their pages."
        s = src(c['source'])
        for name, att in (c.get('attachments') or {}).items():
            mime, b64 = next(iter(att.items()))
            s = s.replace(f'attachment:{name}', f'data:{mime};base64,{src(b64).strip()}')
        return self.fix_links(s)

    def notebook(self, nb:dict)->str:
        "The whole notebook body as markdown (front matter cell dropped)."
        out = []
        for c in nb['cells']:
            if c['cell_type'] == 'markdown': out.append(self.markdown_cell(c))
            elif c['cell_type'] == 'code': out.append(self.code_cell(c))
            elif c['cell_type'] == 'raw':
                fmt = (c.get('metadata') or {}).get('format', '') or (c.get('metadata') or {}).get('raw_mimetype', '')
                if 'html' in fmt: out.append(fence(src(c['source']), '{=html}'))
        return '\n\n'.join(o.strip('\n') for o in out if o.strip()) + '\n'


def get_cfg():
    "nbdev's settings for this repository."
    os.chdir(ROOT)
    from nbdev.config import get_config
    return get_config()


def notebooks(cfg)->list:
    "Notebooks in `nbs/` in reading order: index first, then by file name (nbdev's own glob and skip rules)."
    from nbdev.doclinks import nbglob
    nbs = sorted(Path(p).relative_to(cfg.nbs_path) for p in nbglob(cfg.nbs_path))
    return sorted(nbs, key=lambda p: (p.as_posix() != cfg.get('readme_nb', 'index.ipynb'), p.as_posix()))


def process(cfg, files:list):
    """Run nbdev's docs processing on each notebook into `_proc/`; return (proc folder, {notebook: error}).

    This is the step `nbdev.serve.proc_nbs` runs for every notebook (`nbdev.serve_drv.main` with nbdev's
    `FilterDefaults` processors), done here one notebook at a time so that one failing notebook is reported by
    name and does not hide the others. Like `nbdev_docs`, it executes the cells `show_doc` needs: exported cells,
    `show_doc` cells and EVERY cell that contains an import (keep imports in cells of their own)."""
    import warnings, traceback
    import nbdev.serve_drv
    from nbdev.processors import FilterDefaults
    proc, errors = cfg.config_path/'_proc', {}
    for f in files:
        dst = proc/f
        dst.unlink(missing_ok=True)
        dst.parent.mkdir(parents=True, exist_ok=True)
        t = time.time()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')  # nbdev's "imports and other code" advice: lint() lists those cells up front
                nbdev.serve_drv.main((cfg.nbs_path/f, dst, FilterDefaults))
            print(f"  processed {f} in {time.time()-t:.1f}s")
        except Exception as e:
            cause = e.__cause__ or e.__context__
            errors[f] = f"{e}" + (f"\n{''.join(traceback.format_exception_only(type(cause), cause)).strip()}" if cause else '')
            os.environ.pop('IN_TEST', None)
            print(f"  FAILED to process {f}:\n    " + errors[f].replace('\n', '\n    '), file=sys.stderr)
    return proc, errors


def page_name(rel:Path, fm:dict, readme_nb:str)->str:
    "The HTML file a notebook becomes: index.html for the index, else nbdev's `output-file`."
    if rel.as_posix() == readme_nb: return 'index.html'
    return (rel.parent/fm.get('output-file', rel.with_suffix('.html').name)).as_posix()


def sidebar_html(pages:list, current:str)->str:
    "An ordered list of links to every page, the current one marked."
    items = []
    for rel, name, title in pages:
        href = os.path.relpath(name, os.path.dirname(current) or '.')
        num = re.match(r'^(\d+)_', rel.name)
        text = re.sub(r'`([^`]+)`', r'<code>\1</code>', html.escape(title))  # titles may hold `code`
        label = (f'<span class="num">{int(num.group(1))}</span>' if num else '') + text
        cls = ' class="active" aria-current="page"' if name == current else ''
        items.append(f'<li><a href="{href}"{cls}>{label}</a></li>')
    return '<ol>\n' + '\n'.join(items) + '\n</ol>'


def pager_html(pages:list, current:str)->str:
    "Links to the previous and the next page in reading order (none before the first page or after the last)."
    names = [n for _, n, _ in pages]
    if current not in names: return ''
    i, out = names.index(current), []
    for j, cls, label in ((i - 1, 'prev', '← Previous'), (i + 1, 'next', 'Next →')):
        if 0 <= j < len(pages):
            _, name, title = pages[j]
            href = os.path.relpath(name, os.path.dirname(current) or '.')
            text = re.sub(r'`([^`]+)`', r'<code>\1</code>', html.escape(title))
            out.append(f'<a class="{cls}" rel="{cls}" href="{href}"><span class="dir">{label}</span>{text}</a>')
    return '<nav class="pager" aria-label="Previous and next page">' + ''.join(out) + '</nav>' if out else ''


def render_page(nb:dict, dest:Path, name:str, pages:list, renderer:Renderer, site:str='', tagline:str='',
                source:str='', resource_path:Path=None)->Path:
    """Render processed notebook `nb` to the self-contained page `dest`, whose site-relative name is `name`.

    `pages` is the site's [(notebook, page name, title)] for the sidebar; `resource_path` is where relative image
    paths in markdown are looked up."""
    fm = frontmatter(nb)
    title = str(fm.get('title') or Path(name).stem)
    meta = {'title': title, 'pagetitle': title}
    if fm.get('description'): meta['description'] = str(fm['description'])
    doc = '---\n' + yaml.safe_dump(meta, allow_unicode=True) + '---\n\n' + renderer.notebook(nb)
    dest.parent.mkdir(parents=True, exist_ok=True)
    home = os.path.relpath('index.html', os.path.dirname(name) or '.')
    fd, tmpl = tempfile.mkstemp(suffix='.html', prefix='build_docs_template_')
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f: f.write(TEMPLATE)
        args = ['-t', 'html5', '--standalone', '--embed-resources', '--mathml', '--template', tmpl,
                '--toc', '--toc-depth=2', '--resource-path', str(resource_path or '.'),
                '-V', f'sidebar={sidebar_html(pages, name)}', '-V', f'inline-css={CSS}', '-V', f'home={home}',
                '-V', f'wrap-css={WRAP_CSS}', '-V', f'pager={pager_html(pages, name)}',
                '-V', f'site={html.escape(site)}', '-V', f'tagline={html.escape(tagline)}',
                '-V', f'source={html.escape(source)}', '-o', str(dest)]
        run_pandoc(doc, args, source or name)
    finally: os.unlink(tmpl)
    if renderer.placeholders:
        page = renderer.restore(dest.read_text(encoding='utf-8'))
        left = re.findall(r'GNDOCREF\d+Z', page)
        if left: raise RuntimeError(f"{source or name}: placeholders not restored: {left[:3]}")
        dest.write_text(page, encoding='utf-8')
    return dest


def mixed_import_cells(path:Path)->list:
    """Code cells of notebook `path` that contain an import AND other code: nbdev executes every cell containing an
    import while it builds the docs (`nbdev_docs` and this tool), in a kernel where only exported cells, `show_doc`
    cells and other such cells ran; so these cells run there (slow if they train, failing if they use a variable that
    a test cell defined). Fix: put imports in cells of their own. Returns [(cell index, first line)]."""
    import ast
    cells, out = [], []
    for i, c in enumerate(json.loads(path.read_text(encoding='utf-8'))['cells']):
        if c['cell_type'] != 'code': continue
        opts, code = split_directives(src(c['source']))
        code = '\n'.join('' if l.lstrip().startswith(('%', '!')) else l for l in code.splitlines())
        try: cells.append((i, opts, code, ast.parse(code).body))
        except SyntaxError: pass
    exports = any(o.keys() & {'export', 'exports'} for _, o, _, _ in cells)
    show_doc = any(re.search(r'^show_doc', code, re.M) for _, _, code, _ in cells)
    if not (exports or show_doc): return out  # nbdev executes nothing in a notebook without docs
    for i, opts, code, body in cells:
        if opts.keys() & {'export', 'exports', 'exporti'} or opts.get('eval') == 'false' or 'nbdev_export()' in code: continue
        others = [n for n in body if not isinstance(n, (ast.Import, ast.ImportFrom))]
        if others and len(others) < len(body):
            out.append((i, code.splitlines()[others[0].lineno - 1].strip()))
    return out


def lint(cfg, files:list)->int:
    "Print the cells nbdev will execute while building the docs because they mix imports with other code; return how many."
    n = 0
    for f in files:
        for i, line in mixed_import_cells(cfg.nbs_path/f):
            if n == 0: print("  cells that mix imports with other code: nbdev_docs and this tool EXECUTE them to build the docs "
                             "(put the imports in a cell of their own):")
            n += 1
            print(f"    {f} cell {i}: {line[:90]}")
    return n


def notebook_module(cfg, f:Path)->str:
    "The module a notebook exports to (`#| default_exp data` -> `gan_notes.data`), or '' when it exports nothing."
    for c in json.loads((cfg.nbs_path/f).read_text(encoding='utf-8'))['cells']:
        m = re.search(r'^\s*#\s*\|\s*default_exp\s+(\S+)', src(c['source']), re.M) if c['cell_type'] == 'code' else None
        if m: return f"{Path(cfg.lib_path).name}.{m.group(1)}"
    return ''


def page_list(cfg, files:list)->list:
    "[(notebook, page name, title)] for `files`, from nbdev's front matter processor alone (nothing is executed)."
    from nbdev.process import NBProcessor
    from nbdev.frontmatter import FrontmatterProc
    readme_nb, pages = cfg.get('readme_nb', 'index.ipynb'), []
    for f in files:
        fm = getattr(NBProcessor(cfg.nbs_path/f, procs=FrontmatterProc, process=True).nb, 'frontmatter_', {}) or {}
        pages.append((f, page_name(f, fm, readme_nb), str(fm.get('title') or f.stem)))
    return pages


def build_site(cfg, out:Path, only:list=None):
    """Render the notebooks to self-contained pages in `out`; return (written paths, {notebook: processing error}).

    `only`: build just these notebooks (paths relative to nbs/), keeping the other pages in `out`; by default `out` is
    emptied and every notebook is built, and notebooks that fail processing are left out of the sidebar."""
    files = notebooks(cfg)
    if not files: sys.exit(f"build_docs: no notebooks in {cfg.nbs_path}")
    todo = files if not only else [f for f in files if f in only]
    if only and len(todo) < len(only): sys.exit(f"build_docs: not notebooks of {cfg.nbs_path}: {sorted(set(only) - set(todo))}")
    lint(cfg, todo)
    proc, errors = process(cfg, todo)
    pages = [p for p in page_list(cfg, files) if only or p[0] not in errors]
    link_map = {f.name: name for f, name, _ in pages}
    doc_url = (cfg.get('doc_host', '') + cfg.get('doc_baseurl', '')).rstrip('/') + '/'
    if out.exists() and not only: shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for f, name, title in pages:
        if f not in todo or f in errors: continue
        nb = json.loads((proc/f).read_text(encoding='utf-8'))
        renderer = Renderer(html=True, link_map=link_map, doc_url=doc_url, module=notebook_module(cfg, f))
        dest = render_page(nb, out/name, name, pages, renderer,
                           site=cfg.get('title', cfg.lib_name), tagline=cfg.get('description', ''),
                           source=(Path(cfg.nbs_path.name)/f).as_posix(), resource_path=cfg.nbs_path/f.parent)
        written.append(dest)
        print(f"  {f} -> {dest.relative_to(out.parent) if out.parent in dest.parents else dest}")
    for page, log in fix_anchors(out).items():       # after every page is written: links between pages need their anchors
        print(f"  {page}: {len(log)} link(s) to an anchor that no page has: {'; '.join(log)}")
    return written, errors


_ANCHOR_LINK = re.compile(r'<a\b([^>]*?)\bhref="([^"#]*)#([^"]+)"([^>]*)>(.*?)</a>', re.S)
_IDS = re.compile(r'\s(?:id|name)="([^"]*)"')


def page_ids(page:Path)->set:
    "The fragment targets of an HTML page: its `id` and `name` attributes."
    return {html.unescape(i) for i in _IDS.findall(page.read_text(encoding='utf-8'))}


def fix_anchors(out:Path)->dict:
    """Make every link to an anchor of a local page land on an element that exists; return what changed, by page.

    nbdev links each backticked name it knows (a doc link) to `page.html#name`, but only the names that a `show_doc` rendered
    have an anchor: a method whose class is documented without it (`FeatureStats.save`), or a private helper (`_hook`),
    has none. Such a link is pointed at the documented class (`#featurestats`) when there is one, and otherwise becomes
    plain text (its code span kept), so that no link dangles. `#top` is left alone (HTML scrolls to the top for it)."""
    pages = sorted(p for p in out.rglob('*.html') if not p.name.startswith('.'))
    ids = {p.resolve(): page_ids(p) for p in pages}
    changed = {}
    for p in pages:
        text, log = p.read_text(encoding='utf-8'), []
        def fix(m):
            before, path, frag, after, inner = m.groups()
            if urlsplit(path).scheme or path.startswith('//'): return m.group(0)
            target = (p.parent/unquote(path)).resolve() if path else p.resolve()
            name = unquote(html.unescape(frag))
            if target not in ids or name in ids[target] or name == 'top': return m.group(0)
            owner = name.rsplit('.', 1)[0] if '.' in name else None
            if owner and owner in ids[target]:
                log.append(f"{path}#{frag} -> #{owner}")
                return f'<a{before}href="{path}#{html.escape(owner, quote=True)}"{after}>{inner}</a>'
            log.append(f"{path}#{frag} unlinked")
            return f'<span class="doc-name">{inner}</span>'
        new = _ANCHOR_LINK.sub(fix, text)
        if log:
            p.write_text(new, encoding='utf-8')
            changed[p.relative_to(out).as_posix()] = log
    return changed


def build_readme(cfg, dest:Path)->Path:
    "Write README.md (GitHub-flavoured markdown, `$...$` math) from the `readme_nb` notebook."
    readme_nb = Path(cfg.get('readme_nb', 'index.ipynb'))
    proc, errors = process(cfg, [readme_nb])
    if errors: sys.exit(f"build_docs: could not process {readme_nb}")
    nb = json.loads((proc/readme_nb).read_text(encoding='utf-8'))
    fm = frontmatter(nb)
    media = dest.parent/(dest.stem + '_files')
    if media.exists(): shutil.rmtree(media)
    nbs_dir = Path(cfg.nbs_path).resolve().relative_to(Path(cfg.config_path).resolve()).as_posix()
    branch = cfg.get('branch', 'main')
    body = Renderer(html=False, media_dir=media, blob_base=f"{cfg.git_url.rstrip('/')}/blob/{branch}/",
                    raw_base=raw_url(cfg.git_url, branch), nbs_dir=nbs_dir).notebook(nb)
    gfm = run_pandoc(body, ['-t', 'gfm-tex_math_gfm+tex_math_dollars', '--wrap=preserve'], str(readme_nb))
    head = f"# {fm.get('title', cfg.lib_name)}\n\n"
    if fm.get('description'): head += f"> {fm['description']}\n\n"
    head += f"<!-- Generated from nbs/{readme_nb.as_posix()} by tools/build_docs.py --readme: edit the notebook, not this file. -->\n\n"
    dest.write_text(head + gfm.replace('<!-- WARNING: THIS FILE WAS AUTOGENERATED! DO NOT EDIT! -->\n\n', ''), encoding='utf-8')
    return dest


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                epilog="See the module docstring (tools/build_docs.py) for what is rendered and how.")
    p.add_argument('--readme', action='store_true', help="write README.md from nbs/index.ipynb instead of building the site")
    p.add_argument('notebooks', nargs='*', type=Path,
                   help="build only these notebooks (e.g. nbs/03_vanilla.ipynb), keeping the other pages; default: all")
    p.add_argument('--lint', action='store_true',
                   help="only list the cells that nbdev would execute to build the docs because they mix imports with other code")
    p.add_argument('-o', '--out', type=Path, default=None,
                   help="output folder for the site (default: doc_path from settings.ini, _docs) or file for --readme (default: README.md)")
    a = p.parse_args(argv)
    out = a.out.resolve() if a.out else None
    only = [Path(os.path.relpath(Path(n).resolve(), ROOT/'nbs')) for n in a.notebooks]  # before get_cfg() changes the cwd
    cfg = get_cfg()
    if a.lint:
        n = lint(cfg, only or notebooks(cfg))
        print(f"build_docs --lint: {n} cell(s) mix imports with other code")
        sys.exit(1 if n else 0)
    if a.readme:
        dest = build_readme(cfg, out or ROOT/'README.md')
        print(f"wrote {dest}")
    else:
        out = out or cfg.doc_path
        pages, errors = build_site(cfg, out, only)
        print(f"wrote {len(pages)} pages to {out}")
        if errors:
            sys.exit(f"build_docs: FAILED to process {len(errors)} notebook(s): {', '.join(map(str, errors))} (see above)")


if __name__ == '__main__': main()
