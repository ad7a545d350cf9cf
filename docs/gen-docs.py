#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The man pages and the --help texts of profd, from one source per page (docs/*.toml).

    gen-docs.py man SOURCE OUTPUT [--version VERSION]   the roff man page ('-': standard output)
    gen-docs.py header SOURCE OUTPUT                    a C header: print_help_<command>(program)
    gen-docs.py help SOURCE COMMAND [--program NAME]    a --help text as the program prints it
    gen-docs.py check SOURCE...                         parse and render, for errors only

meson runs `man` and `header` at build time (docs/meson.build); the programs' help() functions
call the generated print_help_*() functions, so `--help` and the man page say the same words.
tests/unit/test_docs.py imports this file to compare the sources with the code.

THE SOURCE FORMAT (TOML, read with Python's own tomllib; gen-docs.py refuses unknown keys)

    [page]            name, section, manual, summary (the NAME line), synopsis (lines; default:
                      the first usage line), see_also ("name(N)"...), program (what @PROGRAM@ is
                      in the man page; default: name), global_options (a group every command
                      takes besides its own, like profctl's: only for tests/unit/test_docs.py)
    [commands."CMD"]  a --help screen, "profd run" or "profctl kill": usage (lines), summary
                      (prose: --help's text, and the start of the command's text in the man
                      page), doc (more prose, man page only), notes (prose after the lists, in
                      both), footer (prose, --help only: pointers to man pages), blocks (what
                      --help lists: [{title, options = GROUP(S) | verbs = [CMD...], man = false
                      when the man page shows it elsewhere}]), and for a verb: brief (its line in
                      the list of verbs), brief_usage (its usage there, if shorter), aliases
    [[options.GROUP]] short, long, arg, optional_arg, help (its --help line: a fragment, no final
                      period; in the man page the first sentence), doc (the rest of its man
                      text), man (false: not in the man page)
    [[section]]       the man page after NAME and SYNOPSIS, in order: title, subsection (true:
                      .SS), then text (prose), idl = INTERFACE (an overview of its [[method]],
                      [[signal]] and [[property]] rows), command = CMD (its summary, doc, option
                      blocks and notes), options = GROUP(S), verbs = [CMD...] (a .TP list, each
                      verb with its text and options), items = TABLE with where = {FIELD = VALUE}
                      (a .TP list of [[TABLE]] rows), list = [{term, text}], after (prose)
    [[TABLE]]         rows for items =: name and text, and what their term is made of (see
                      TERM_FORMATS: method, signal, property, spec_key, status_key, setting...);
                      tests/unit/test_docs.py compares them with the code

Prose: paragraphs are separated by blank lines; lines indented by four spaces are an example
(verbatim); lines starting with "- " are a bulleted list (continued by lines indented by two).
Inline: `literal` (bold), *REPLACEABLE* (italic, also inside a literal), \\x for a literal x, and
name(N) becomes a reference to a man page. @PROGRAM@ is the program's name (%s in the C text).
--help texts must be ASCII: they are printed whatever the locale.
"""

import argparse
import os
import re
import sys
import textwrap

try:
    import tomllib
except ImportError:  # Python < 3.11
    sys.exit("gen-docs.py needs Python >= 3.11 (tomllib)")

HELP_WIDTH = 79         # the longest line of a --help text
HELP_COLUMN_MAX = 38    # where option descriptions start at the most
C_STRING_MAX = 2048     # bytes of text in one C string literal of a generated header

# ------------------------------------------------------------------------------------------------
# Loading and checking the source


class SourceError(Exception):
    pass


PAGE_KEYS = {"name", "section", "manual", "summary", "synopsis", "see_also", "program", "global_options"}
SECTION_KEYS = {"title", "subsection", "text", "idl", "command", "options", "verbs", "items", "where", "list", "after"}
COMMAND_KEYS = {"usage", "summary", "doc", "brief", "brief_usage", "aliases", "blocks", "notes", "footer"}
BLOCK_KEYS = {"title", "options", "verbs", "man"}
OPTION_KEYS = {"short", "long", "arg", "optional_arg", "help", "doc", "man"}


def _check_keys(table, allowed, where):
    unknown = set(table) - allowed
    if unknown:
        raise SourceError("%s: unknown key(s) %s (allowed: %s)" % (where, ", ".join(sorted(unknown)),
                                                                  ", ".join(sorted(allowed))))


def _as_list(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def load(path):
    """The source as a dict, checked for unknown keys and dangling references."""
    with open(path, "rb") as f:
        try:
            doc = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise SourceError("%s: %s" % (path, e))
    doc["_path"] = path
    if "page" not in doc:
        raise SourceError("%s: no [page]" % path)
    _check_keys(doc["page"], PAGE_KEYS, "%s: [page]" % path)
    for k in ("name", "section", "manual", "summary"):
        if k not in doc["page"]:
            raise SourceError("%s: [page] has no %s" % (path, k))
    groups = doc.setdefault("options", {})
    commands = doc.setdefault("commands", {})
    for g, opts in groups.items():
        for i, o in enumerate(opts):
            where = "%s: options.%s[%d]" % (path, g, i)
            _check_keys(o, OPTION_KEYS, where)
            if "long" not in o and "short" not in o:
                raise SourceError("%s: neither short nor long" % where)
            if "help" not in o:
                raise SourceError("%s: no help" % where)
    for name, c in commands.items():
        where = "%s: commands.%r" % (path, name)
        _check_keys(c, COMMAND_KEYS, where)
        if "usage" not in c or "summary" not in c:
            raise SourceError("%s: needs usage and summary" % where)
        for i, b in enumerate(c.get("blocks", [])):
            _check_keys(b, BLOCK_KEYS, "%s.blocks[%d]" % (where, i))
            _check_refs(doc, b, "%s.blocks[%d]" % (where, i))
    for i, s in enumerate(doc.get("section", [])):
        where = "%s: section[%d] %r" % (path, i, s.get("title"))
        _check_keys(s, SECTION_KEYS, where)
        if "title" not in s:
            raise SourceError("%s: no title" % where)
        _check_refs(doc, s, where)
        if "command" in s and s["command"] not in commands:
            raise SourceError("%s: no command %r" % (where, s["command"]))
        if "items" in s and s["items"] not in doc:
            raise SourceError("%s: no table [[%s]]" % (where, s["items"]))
    # Every text that goes into --help is ASCII: it is printed whatever the locale.
    for name in commands:
        text = render_help(doc, name)
        for line in text.splitlines():
            if not line.isascii():
                raise SourceError("%s: the --help text of %r has non-ASCII characters: %r" % (path, name, line))
    return doc


def _check_refs(doc, block, where):
    for g in _as_list(block.get("options")):
        if g not in doc["options"]:
            raise SourceError("%s: no option group %r" % (where, g))
    for v in _as_list(block.get("verbs")):
        if v not in doc["commands"]:
            raise SourceError("%s: no command %r" % (where, v))


def program_of(doc):
    return doc["page"].get("program", doc["page"]["name"])


def documented_options(doc, command):
    """{(short or None, long or None, argument kind)} of the options documented for `command`:
    those its --help lists, and the page's global_options, which every command takes. The kind is
    'no', 'required' or 'optional'."""
    groups = [g for b in doc["commands"][command].get("blocks", []) for g in _as_list(b.get("options"))]
    groups += _as_list(doc["page"].get("global_options"))
    result = set()
    for g in groups:
        for o in doc["options"][g]:
            kind = "no" if "arg" not in o else "optional" if o.get("optional_arg") else "required"
            result.add((o.get("short"), o.get("long"), kind))
    return result


# ------------------------------------------------------------------------------------------------
# Inline markup: a list of (font, text), font '' (roman), 'B' (bold) or 'I' (italic)

MANREF = re.compile(r"(?<![\w.:+-])([A-Za-z0-9_][A-Za-z0-9_.:+-]*)\((\d)\)")


def parse_inline(text):
    spans = []
    literal = italic = False
    buf = []

    def flush():
        if buf:
            font = "I" if italic else "B" if literal else ""
            spans.append((font, "".join(buf)))
            buf.clear()

    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            buf.append(text[i + 1])
            i += 2
            continue
        if c == "`":
            flush()
            literal = not literal
        elif c == "*":
            flush()
            italic = not italic
        else:
            buf.append(c)
        i += 1
    if literal or italic:
        raise SourceError("unbalanced ` or * in %r" % text)
    flush()

    # name(N) in roman text: a reference to a man page, its name in bold.
    out = []
    for font, t in spans:
        if font:
            out.append((font, t))
            continue
        pos = 0
        for m in MANREF.finditer(t):
            out.append(("", t[pos:m.start()]))
            out.append(("B", m.group(1)))
            out.append(("", "(%s)" % m.group(2)))
            pos = m.end()
        out.append(("", t[pos:]))
    return [(f, t) for f, t in out if t]


def plain(text):
    return "".join(t for _, t in parse_inline(text))


# Synopses ("profctl kill [-s SIG | -SIG] ID...", "--supporter='[NAME=]CMD ARGS'"): REPLACEABLE
# words italic, punctuation roman, the rest bold, as man pages set them.
SYNOPSIS_TOKEN = re.compile(r"(?P<word>[A-Z][A-Z0-9_]*(?:-[A-Z0-9_]+)*)(?![a-z])|(?P<roman>\.\.\.|[][|{} ,'])")


def synopsis_spans(text):
    spans = []
    pos = 0
    for m in SYNOPSIS_TOKEN.finditer(text):
        if m.group("word"):
            w = m.group("word")
            before = text[m.start() - 1] if m.start() > 0 else " "
            # -H, -M, -E: short options. -SIG: a dash and a replaceable.
            if before == "-" and len(w) == 1:
                continue
            if before.isalnum():
                continue
        spans.append(("B", text[pos:m.start()]))
        spans.append(("I" if m.group("word") else "", m.group(0)))
        pos = m.end()
    spans.append(("B", text[pos:]))
    return [(f, t) for f, t in spans if t]


# ------------------------------------------------------------------------------------------------
# Prose blocks: ('para', text) | ('example', text) | ('bullets', [text])


def parse_blocks(text):
    blocks = []
    lines = (text or "").strip("\n").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif line.startswith("    "):
            ex = []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                ex.append(lines[i][4:])
                i += 1
            while ex and not ex[-1].strip():
                ex.pop()
            blocks.append(("example", "\n".join(ex)))
        elif line.startswith("- "):
            items = []
            while i < len(lines) and (lines[i].startswith("- ") or lines[i].startswith("  ")):
                if lines[i].startswith("- "):
                    items.append(lines[i][2:])
                else:
                    items[-1] += "\n" + lines[i].strip()
                i += 1
            blocks.append(("bullets", items))
        else:
            para = []
            while i < len(lines) and lines[i].strip() and not lines[i].startswith(("    ", "- ")):
                para.append(lines[i].strip())
                i += 1
            blocks.append(("para", "\n".join(para)))
    return blocks


# ------------------------------------------------------------------------------------------------
# roff

ROFF_CHARS = {
    "\u2192": "\\(->", "\u2014": "\\(em", "\u2013": "\\(en", "\u00b5": "\\(mc", "\u25cf": "\\(bu",
    "\u2026": "\\&...", "\u2264": "\\(<=", "\u2265": "\\(>=", "\u2212": "\\-", "\u00d7": "\\(mu",
    "\u2018": "\\(oq", "\u2019": "\\(cq", "\u201c": "\\(lq", "\u201d": "\\(rq",
}


def roff_escape(text, literal):
    out = []
    for c in text:
        if c == "\\":
            out.append("\\e")
        elif c == "-" and literal:
            out.append("\\-")
        elif c == "'" and literal:
            out.append("\\(aq")
        elif c in ROFF_CHARS:
            out.append(ROFF_CHARS[c])
        else:
            out.append(c)
    return "".join(out)


def roff_spans(spans):
    out = []
    for font, t in spans:
        e = roff_escape(t, literal=bool(font))
        out.append("\\f%s%s\\fR" % (font, e) if font else e)
    return "".join(out)


def roff_lines(text):
    """Lines of roff text: none may start with a control character."""
    out = []
    for line in text.split("\n"):
        line = line.strip(" ")
        if line.startswith((".", "'")):
            line = "\\&" + line
        out.append(line)
    return out


def roff_blocks(blocks):
    """Parsed prose as roff, each block after a paragraph macro (.PP; .IP for list items)."""
    out = []
    for n, (kind, body) in enumerate(blocks):
        if kind == "para":
            out.append(".PP")
            out.extend(roff_lines(roff_spans(parse_inline(body))))
        elif kind == "bullets":
            for item in body:
                out.append(".IP \\(bu 2")
                out.extend(roff_lines(roff_spans(parse_inline(item))))
        else:
            out.append(".PP")
            out.append(".EX")
            for line in body.split("\n"):
                e = roff_escape(line, literal=True)
                out.append("\\&" + e if e.startswith((".", "'")) else e)
            out.append(".EE")
    return out


def roff_prose(text, program):
    return roff_blocks(parse_blocks(text.replace("@PROGRAM@", "`%s`" % program)))


def roff_item(term_roff, text, program, extra=None):
    """.TP with a term and a body: its first paragraph, then the rest and `extra` (roff lines)
    indented with .RS/.RE."""
    out = [".TP", term_roff]
    blocks = parse_blocks(text.replace("@PROGRAM@", "`%s`" % program))
    if blocks and blocks[0][0] == "para":
        out.extend(roff_lines(roff_spans(parse_inline(blocks[0][1]))))
        blocks = blocks[1:]
    else:
        out.append("\\&")
    rest = roff_blocks(blocks) + (extra or [])
    if rest:
        out += [".RS"] + rest + [".RE"]
    return out


def option_synopsis(o, sep=", "):
    parts = []
    if o.get("short"):
        parts.append("-" + o["short"])
    if o.get("long"):
        s = "--" + o["long"]
        if "arg" in o:
            s += ("[=%s]" if o.get("optional_arg") else "=%s") % o["arg"]
        parts.append(s)
    elif "arg" in o:
        parts[-1] += " " + o["arg"]
    return sep.join(parts)


def sentence(text):
    text = text.rstrip()
    return text if not text or text[-1] in ".!?:" else text + "."


def option_text(o):
    """What the man page says of an option: its --help line as a sentence, then the rest."""
    doc = o.get("doc", "").strip("\n")
    head = sentence(o["help"].strip())
    if not doc:
        return head
    if doc.startswith(("    ", "- ")):
        return head + "\n\n" + doc
    return head + "\n" + doc


def roff_options(doc, groups, program):
    out = []
    for g in _as_list(groups):
        for o in doc["options"][g]:
            if o.get("man", True):
                out += roff_item(roff_spans(synopsis_spans(option_synopsis(o))), option_text(o), program)
    return out


def verb_usage(doc, name):
    """The usage line of a verb without the program: "kill [-s SIG] ID..."."""
    c = doc["commands"][name]
    return [re.sub(r"^@PROGRAM@\s+", "", u) for u in c["usage"]]


def roff_command(doc, name, program):
    """A command's summary, the rest of its text, its options (unless shown elsewhere: man =
    false) and its notes: the body of a verb's entry, or of a section."""
    c = doc["commands"][name]
    text = c["summary"].strip("\n")
    if c.get("doc"):
        text += "\n\n" + c["doc"].strip("\n")
    options = []
    for b in c.get("blocks", []):
        if b.get("man", True) and b.get("options"):
            options += roff_options(doc, b["options"], program)
    notes = roff_prose(c["notes"], program) if c.get("notes") else []
    return text, options, notes


def roff_verbs(doc, names, program):
    out = []
    for name in names:
        c = doc["commands"][name]
        verb = name.split()[-1]
        usages = verb_usage(doc, name)
        usages += [re.sub(r"^%s\b" % re.escape(verb), a, usages[0]) for a in c.get("aliases", [])]
        usages = list(dict.fromkeys(usages))  # the usage may name the aliases already
        terms = [roff_spans(synopsis_spans(u)) for u in usages]
        text, options, notes = roff_command(doc, name, program)
        item = roff_item(terms[0], text, program, options + notes)
        # More usage lines: .TQ terms under the first.
        for t in reversed(terms[1:]):
            item[2:2] = [".TQ", t]
        out += item
    return out


# The term of a row of a [[TABLE]], from its fields.
def _sig(args):
    return ", ".join("`%s` *%s*" % tuple(a.split(None, 1)) for a in args)


TERM_FORMATS = {
    "method": lambda r: "`%s`(%s)%s" % (r["name"], _sig(r.get("in", [])),
                                        " \u2192 (%s)" % _sig(r["out"]) if r.get("out") else ""),
    "signal": lambda r: "`%s`(%s)" % (r["name"], _sig(r.get("args", []))),
    "property": lambda r: "`%s` `%s`%s" % (r["name"], r["type"], {"const": " (constant)",
                                                                   "emits-change": "",
                                                                   "invalidates": " (invalidated on change)"}
                                           [r.get("changes", "emits-change")]),
    "spec_key": lambda r: "`%s` `%s`" % (r["name"], r["type"]),
    "supporter_key": lambda r: "`%s` `%s`" % (r["name"], r["type"]),
    "status_key": lambda r: "`%s` `%s`" % (r["name"], r["type"]),
    "process_key": lambda r: "`%s` `%s`" % (r["name"], r["type"]),
    "error": lambda r: "`%s`" % r["name"],
    "setting": lambda r: "`%s=`%s" % (r["key"], "*%s*" % r["value"] if r.get("value") else ""),
}


def roff_table(doc, table, where, program):
    out = []
    for r in doc[table]:
        if any(r.get(k) != v for k, v in (where or {}).items()):
            continue
        term = TERM_FORMATS.get(table, lambda r: "`%s`" % (r.get("term") or r["name"]))(r)
        text = r.get("text", "").strip("\n")
        if table == "setting":
            text = sentence(text) if text else text
            default = r.get("default_text") or ("`%s`" % r["default"] if r.get("default") else None)
            if default:
                text += ("\n" if "\n\n" not in text else "\n\n") + "Default: %s." % default
        out += roff_item(roff_spans(parse_inline(term)), text, program)
    return out


def idl(doc, interface):
    """The interface at a glance, as systemd's D-Bus man pages show theirs."""
    out = ["interface %s {" % interface]
    rows = {k: [r for r in doc.get(k, []) if r["interface"] == interface] for k in ("method", "signal", "property")}
    if rows["method"]:
        out.append("  methods:")
        for r in rows["method"]:
            args = ["in  %s" % a for a in r.get("in", [])] + ["out %s" % a for a in r.get("out", [])]
            out.append("    %s(%s);" % (r["name"], ", ".join(args)))
    if rows["signal"]:
        out.append("  signals:")
        for r in rows["signal"]:
            out.append("    %s(%s);" % (r["name"], ", ".join(r.get("args", []))))
    if rows["property"]:
        out.append("  properties:")
        for r in rows["property"]:
            note = {"const": "  (constant)", "invalidates": "  (invalidated on change)"}.get(r.get("changes"), "")
            out.append("    readonly %s %s;%s" % (r["type"], r["name"], note))
    out.append("};")
    return out


def render_man(doc, version=""):
    page = doc["page"]
    program = program_of(doc)
    out = [".\\\" SPDX-License-Identifier: LGPL-2.1-or-later",
           ".\\\" Generated by docs/gen-docs.py from docs/%s: edit that file, not this one." %
           doc["_path"].rsplit("/", 1)[-1],
           '.TH "%s" %s "" "profd %s" "%s"' % (page["name"].upper(), page["section"], version, page["manual"]),
           ".SH NAME",
           "%s \\- %s" % (roff_escape(page["name"], literal=True), roff_spans(parse_inline(page["summary"])))]

    synopsis = page.get("synopsis")
    if synopsis is None and doc["commands"]:
        synopsis = [u for c in doc["commands"].values() for u in c["usage"]][:1]
    if synopsis:
        out.append(".SH SYNOPSIS")
        for n, line in enumerate(synopsis):
            if n:
                out.append(".br")
            out.append(roff_spans(synopsis_spans(line.replace("@PROGRAM@", program))))

    for s in doc.get("section", []):
        out.append((".SS " if s.get("subsection") else ".SH ") + roff_escape(s["title"], literal=False))
        if s.get("text"):
            out += roff_prose(s["text"], program)
        if s.get("idl"):
            out += roff_prose("\n".join("    " + line for line in idl(doc, s["idl"])), program)
        if s.get("command"):
            text, options, notes = roff_command(doc, s["command"], program)
            out += roff_prose(text, program) + options + notes
        if s.get("options"):
            out += roff_options(doc, s["options"], program)
        if s.get("verbs"):
            out += roff_verbs(doc, _as_list(s["verbs"]), program)
        if s.get("items"):
            out += roff_table(doc, s["items"], s.get("where"), program)
        for item in s.get("list", []):
            terms = [roff_spans(parse_inline(t)) for t in _as_list(item["term"])]
            lines = roff_item(terms[0], item.get("text", ""), program)
            for t in reversed(terms[1:]):
                lines[2:2] = [".TQ", t]
            out += lines
        if s.get("after"):
            out += roff_prose(s["after"], program)

    if page.get("see_also"):
        out.append(".SH SEE ALSO")
        refs = page["see_also"]
        for n, ref in enumerate(refs):
            m = re.fullmatch(r"(.+)\((\w+)\)", ref)
            if not m:
                raise SourceError("see_also: %r is not name(N)" % ref)
            out.append(".BR %s (%s)%s" % (roff_escape(m.group(1), literal=True), m.group(2),
                                          "," if n + 1 < len(refs) else ""))

    # No .PP right after a heading: it would only add nothing (and lintian's checks read cleaner).
    tidy = []
    for line in out:
        if line == ".PP" and tidy and tidy[-1].startswith((".SH", ".SS")):
            continue
        tidy.append(line)
    return "\n".join(tidy) + "\n"


# ------------------------------------------------------------------------------------------------
# --help


def _wrap(text, width, indent=""):
    return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=indent,
                         break_long_words=False, break_on_hyphens=False) or [indent.rstrip()]


def help_prose(text, width=HELP_WIDTH):
    out = []
    for kind, body in parse_blocks(text):
        if out:
            out.append("")
        if kind == "para":
            out += _wrap(plain(body).replace("\n", " "), width)
        elif kind == "bullets":
            for item in body:
                lines = _wrap(plain(item).replace("\n", " "), width - 2)
                out += ["- " + lines[0]] + ["  " + l for l in lines[1:]]
        else:
            out += ["  " + line for line in body.split("\n")]
    return out


def help_rows(rows, column):
    """Two columns, "  left   description", the description wrapped below itself."""
    out = []
    for left, text in rows:
        desc = _wrap(plain(text).replace("\n", " "), HELP_WIDTH - column)
        if len(left) + 2 > column:
            out.append(left)
            out += [" " * column + d for d in desc]
        else:
            out.append(left.ljust(column) + desc[0])
            out += [" " * column + d for d in desc[1:]]
    return out


def help_option_left(o):
    short = "-%s " % o["short"] if o.get("short") else "   "
    if o.get("long"):
        return "  " + short + option_synopsis(dict(o, short=None), sep="")
    return "  " + option_synopsis(o)


def render_help(doc, command, program=None):
    """The --help text; @PROGRAM@ is `program`, or '@PROGRAM@' kept for the C header."""
    c = doc["commands"][command]
    blocks = []
    for b in c.get("blocks", []):
        rows = []
        for g in _as_list(b.get("options")):
            rows += [(help_option_left(o), o["help"]) for o in doc["options"][g]]
        for v in _as_list(b.get("verbs")):
            vc = doc["commands"][v]
            left = vc.get("brief_usage") or verb_usage(doc, v)[0]
            if vc.get("aliases"):
                left = ", ".join([v.split()[-1]] + vc["aliases"])
            rows.append(("  " + left, vc.get("brief", "")))
        blocks.append((b.get("title"), rows))
    # One column for the whole screen, so that the lists line up.
    column = min(max((len(left) + 2 for _, rows in blocks for left, _ in rows), default=0), HELP_COLUMN_MAX)

    out = list(c["usage"])
    out.append("")
    out += help_prose(c["summary"])
    for title, rows in blocks:
        out.append("")
        if title:
            out.append(title + ":")
        out += help_rows(rows, column)
    for key in ("notes", "footer"):
        if c.get(key):
            out.append("")
            out += help_prose(c[key])
    text = "\n".join(out) + "\n"
    if program is not None:
        text = text.replace("@PROGRAM@", program)
    return text


def c_identifier(command):
    return re.sub(r"[^A-Za-z0-9]+", "_", command).strip("_")


def c_string_lines(text):
    lines = []
    for line in text.splitlines(keepends=True):
        s = line.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("\n", "\\n")
        lines.append('"%s"' % s.replace("@PROGRAM@", "%s"))
    return lines


def render_header(doc):
    source = doc["_path"].rsplit("/", 1)[-1]
    out = ["/* SPDX-License-Identifier: LGPL-2.1-or-later */",
           "/* Generated by docs/gen-docs.py from docs/%s: edit that file, not this one. The same" % source,
           " * words make the man page. */",
           "#pragma once",
           "",
           "#include <stdio.h>",
           ""]
    for command in doc["commands"]:
        out.append("/* %s --help */" % command)
        out.append("static inline void print_help_%s(const char *program) {" % c_identifier(command))
        out.append("        (void) program;")
        # Pieces of C_STRING_MAX at most: ISO C promises string literals of 4095 bytes only.
        pieces, piece = [], ""
        for line in render_help(doc, command).splitlines(keepends=True):
            if piece and len(piece) + len(line) > C_STRING_MAX:
                pieces.append(piece)
                piece = ""
            piece += line
        pieces.append(piece)
        for piece in pieces:
            n = piece.count("@PROGRAM@")
            lines = c_string_lines(piece)
            if n == 0:
                out.append("        fputs(%s" % lines[0])
                out += ["              %s" % l for l in lines[1:]]
                out[-1] += ", stdout);"
            else:
                out.append("        printf(%s" % lines[0])
                out += ["               %s" % l for l in lines[1:]]
                out[-1] += ","
                out.append("               " + ", ".join(["program"] * n) + ");")
        out.append("}")
        out.append("")
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------


def write(path, text):
    if path == "-":
        sys.stdout.write(text)
        return
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("man")
    p.add_argument("source")
    p.add_argument("output")
    p.add_argument("--version", default="")
    p = sub.add_parser("header")
    p.add_argument("source")
    p.add_argument("output")
    p = sub.add_parser("help")
    p.add_argument("source")
    p.add_argument("command")
    p.add_argument("--program")
    p = sub.add_parser("check")
    p.add_argument("sources", nargs="+")
    args = parser.parse_args(argv)

    try:
        if args.what == "man":
            write(args.output, render_man(load(args.source), args.version))
        elif args.what == "header":
            write(args.output, render_header(load(args.source)))
        elif args.what == "help":
            doc = load(args.source)
            sys.stdout.write(render_help(doc, args.command, args.program or program_of(doc)))
        else:
            for s in args.sources:
                doc = load(s)
                render_man(doc)
                render_header(doc)
    except SourceError as e:
        sys.exit("gen-docs.py: %s" % e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
