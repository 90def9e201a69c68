//! Regular expressions for claim values, in the RE2 syntax (the dialect of
//! Go, Prometheus and Grafana): literals, `.`, classes (`[a-z_]`, `[^:]`,
//! `\d \w \s` and their negations, ASCII as in RE2), groups (`(...)`,
//! `(?:...)`, `(?P<name>...)`), alternation, the quantifiers `* + ? {n}
//! {n,} {n,m}` (greedy, or lazy with a trailing `?`) and the anchors
//! `^ $ \A \z`. Anything else (flags, `\b`, Unicode classes) is refused
//! when the configuration is read, never misread.
//!
//! A pattern matches a whole value, as Prometheus relabelling does, so
//! `team-(.+)` never matches `x-team-a`. Matching is a bounded
//! backtracker: leftmost-first like RE2, and each (instruction, position)
//! pair is tried at most once, so time is linear in the value's length.
//! That memo is exact because loops over expressions that can match the
//! empty string (`(a*)*`) are refused.
//!
//! Written here rather than taken from the `regex` crates: the whole of
//! `regex` adds ~227 KB to the filter and `regex-lite` ~51 KB; this subset
//! costs a few.

use std::fmt;

/// Longest claim value a pattern is tried on; longer ones never match.
pub const MAX_TEXT_BYTES: usize = 1024;
const MAX_PATTERN_BYTES: usize = 1024;
const MAX_PROGRAM: usize = 2048;
const MAX_REPEAT: u32 = 100;
const MAX_NESTING: usize = 32;

/// Why a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError(pub String);

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn error<T>(reason: impl Into<String>) -> Result<T, PatternError> {
    Err(PatternError(reason.into()))
}

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    program: Vec<Inst>,
    classes: Vec<Class>,
    groups: usize,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Pattern {}

impl Pattern {
    pub fn new(source: &str) -> Result<Pattern, PatternError> {
        if source.len() > MAX_PATTERN_BYTES {
            return error(format!("longer than {MAX_PATTERN_BYTES} bytes"));
        }
        let mut parser = Parser {
            chars: source.chars().collect(),
            at: 0,
            groups: 0,
            depth: 0,
        };
        let node = parser.alternation()?;
        if parser.at < parser.chars.len() {
            return error("unmatched `)`");
        }
        let mut compiler = Compiler::default();
        compiler.node(&node)?;
        compiler.push(Inst::Match)?;
        Ok(Pattern {
            source: source.to_string(),
            program: compiler.program,
            classes: compiler.classes,
            groups: parser.groups,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Number of capture groups.
    pub fn groups(&self) -> usize {
        self.groups
    }

    /// The text of the first capture group when the whole of `text`
    /// matches and that group took part in the match.
    pub fn first_group<'t>(&self, text: &'t str) -> Option<&'t str> {
        if text.len() > MAX_TEXT_BYTES || self.groups == 0 {
            return None;
        }
        let slots = Backtracker::new(self, text).run()?;
        match slots[..2] {
            [Some(start), Some(end)] => text.get(start..end),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
enum Node {
    Empty,
    Char(char),
    Any,
    Class(Class),
    Start,
    End,
    Group(Box<Node>, Option<usize>),
    Concat(Vec<Node>),
    Alternation(Vec<Node>),
    Repeat {
        node: Box<Node>,
        min: u32,
        max: Option<u32>,
        greedy: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Class {
    ranges: Vec<(char, char)>,
    negated: bool,
}

impl Class {
    fn matches(&self, c: char) -> bool {
        let inside = self.ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c));
        inside != self.negated
    }
}

/// `\d`, `\w`, `\s` (ASCII, as RE2) and their negations.
fn perl_class(letter: char) -> Option<Class> {
    let ranges = match letter.to_ascii_lowercase() {
        'd' => vec![('0', '9')],
        'w' => vec![('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')],
        's' => vec![('\t', '\n'), ('\x0c', '\r'), (' ', ' ')],
        _ => return None,
    };
    Some(Class {
        ranges,
        negated: letter.is_ascii_uppercase(),
    })
}

struct Parser {
    chars: Vec<char>,
    at: usize,
    groups: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        let found = self.peek() == Some(c);
        if found {
            self.at += 1;
        }
        found
    }

    fn next(&mut self) -> Result<char, PatternError> {
        let c = self
            .peek()
            .ok_or_else(|| PatternError("ends early".into()))?;
        self.at += 1;
        Ok(c)
    }

    fn alternation(&mut self) -> Result<Node, PatternError> {
        let mut branches = vec![self.concat()?];
        while self.eat('|') {
            branches.push(self.concat()?);
        }
        Ok(if branches.len() == 1 {
            branches.remove(0)
        } else {
            Node::Alternation(branches)
        })
    }

    fn concat(&mut self) -> Result<Node, PatternError> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            items.push(self.quantified(atom)?);
        }
        Ok(match items.len() {
            0 => Node::Empty,
            1 => items.remove(0),
            _ => Node::Concat(items),
        })
    }

    fn atom(&mut self) -> Result<Node, PatternError> {
        match self.next()? {
            '.' => Ok(Node::Any),
            '^' => Ok(Node::Start),
            '$' => Ok(Node::End),
            '(' => self.group(),
            '[' => self.class().map(Node::Class),
            '\\' => self.escape(),
            '*' | '+' | '?' => error("quantifier without an expression before it"),
            '{' if self.peek().is_some_and(|c| c.is_ascii_digit()) => {
                error("quantifier without an expression before it")
            }
            c => Ok(Node::Char(c)),
        }
    }

    fn group(&mut self) -> Result<Node, PatternError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return error("groups nested too deeply");
        }
        let capture = if self.eat('?') {
            match self.next()? {
                ':' => None,
                'P' if self.eat('<') => Some(self.group_name()?),
                '<' => Some(self.group_name()?),
                _ => return error("flags and other `(?` groups are not supported"),
            }
        } else {
            Some(())
        };
        let index = capture.map(|()| {
            self.groups += 1;
            self.groups
        });
        let inner = self.alternation()?;
        if !self.eat(')') {
            return error("missing `)`");
        }
        self.depth -= 1;
        Ok(Node::Group(Box::new(inner), index))
    }

    fn group_name(&mut self) -> Result<(), PatternError> {
        let mut empty = true;
        loop {
            match self.next()? {
                '>' if !empty => return Ok(()),
                c if c.is_ascii_alphanumeric() || c == '_' => empty = false,
                _ => return error("invalid group name"),
            }
        }
    }

    fn escape(&mut self) -> Result<Node, PatternError> {
        let c = self.next()?;
        if let Some(class) = perl_class(c) {
            return Ok(Node::Class(class));
        }
        match c {
            'A' => Ok(Node::Start),
            'z' => Ok(Node::End),
            _ => self.escaped_char(c).map(Node::Char),
        }
    }

    /// The character an escape stands for (after the `\`).
    fn escaped_char(&mut self, c: char) -> Result<char, PatternError> {
        match c {
            'n' => Ok('\n'),
            't' => Ok('\t'),
            'r' => Ok('\r'),
            'f' => Ok('\x0c'),
            'v' => Ok('\x0b'),
            'a' => Ok('\x07'),
            'x' => self.hex_escape(),
            c if c.is_ascii_punctuation() => Ok(c),
            _ => error(format!("escape `\\{c}` is not supported")),
        }
    }

    fn hex_escape(&mut self) -> Result<char, PatternError> {
        let digits: String = if self.eat('{') {
            let mut digits = String::new();
            loop {
                match self.next()? {
                    '}' => break digits,
                    c => digits.push(c),
                }
            }
        } else {
            [self.next()?, self.next()?].iter().collect()
        };
        u32::from_str_radix(&digits, 16)
            .ok()
            .filter(|_| !digits.is_empty() && digits.len() <= 6)
            .and_then(char::from_u32)
            .map_or_else(|| error("invalid `\\x` escape"), Ok)
    }

    fn class(&mut self) -> Result<Class, PatternError> {
        let negated = self.eat('^');
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let c = self.next()?;
            match c {
                ']' if !first => break,
                '[' if self.peek() == Some(':') => {
                    return error("POSIX classes `[:name:]` are not supported")
                }
                '\\' => {
                    let escaped = self.next()?;
                    if let Some(class) = perl_class(escaped) {
                        if class.negated {
                            return error("negated classes inside `[...]` are not supported");
                        }
                        ranges.extend(class.ranges);
                    } else {
                        let lo = self.escaped_char(escaped)?;
                        ranges.push(self.range_from(lo)?);
                    }
                }
                c => ranges.push(self.range_from(c)?),
            }
            first = false;
        }
        Ok(Class { ranges, negated })
    }

    /// `lo` alone, or `lo-hi` when a range follows.
    fn range_from(&mut self, lo: char) -> Result<(char, char), PatternError> {
        if self.peek() != Some('-') || self.chars.get(self.at + 1) == Some(&']') {
            return Ok((lo, lo));
        }
        self.at += 1;
        let hi = match self.next()? {
            '\\' => {
                let c = self.next()?;
                self.escaped_char(c)?
            }
            c => c,
        };
        if hi < lo {
            return error(format!("invalid class range `{lo}-{hi}`"));
        }
        Ok((lo, hi))
    }

    fn quantified(&mut self, atom: Node) -> Result<Node, PatternError> {
        let (min, max) = match self.peek() {
            Some('*') => (0, None),
            Some('+') => (1, None),
            Some('?') => (0, Some(1)),
            Some('{') => match self.counted()? {
                Some(bounds) => bounds,
                None => return Ok(atom),
            },
            _ => return Ok(atom),
        };
        // Past the `*`, `+`, `?` or the `}` of a counted repetition.
        self.at += 1;
        if matches!(atom, Node::Start | Node::End | Node::Empty) {
            return error("quantifier after an anchor or nothing");
        }
        // A loop whose body can match nothing would revisit its own start:
        // the memo of tried positions is exact only without such loops.
        if max.is_none() && nullable(&atom) {
            return error("a repeated expression must not match the empty string, as `(a*)*` can");
        }
        let greedy = !self.eat('?');
        if matches!(self.peek(), Some('*' | '+' | '?')) {
            return error("a quantifier cannot follow a quantifier");
        }
        Ok(Node::Repeat {
            node: Box::new(atom),
            min,
            max,
            greedy,
        })
    }

    /// `{n}`, `{n,}`, `{n,m}`; leaves the parser on the closing `}`.
    /// `None` when the `{` starts no repetition (RE2 reads it as a literal).
    fn counted(&mut self) -> Result<Option<(u32, Option<u32>)>, PatternError> {
        let rest: String = self.chars[self.at..].iter().collect();
        let Some(close) = rest.find('}') else {
            return Ok(None);
        };
        let inner = &rest[1..close];
        let number = |text: &str| text.parse::<u32>().ok().filter(|_| !text.is_empty());
        let bounds = match inner.split_once(',') {
            None => number(inner).map(|n| (n, Some(n))),
            Some((lo, "")) => number(lo).map(|n| (n, None)),
            Some((lo, hi)) => number(lo).zip(number(hi)).map(|(lo, hi)| (lo, Some(hi))),
        };
        let Some((min, max)) = bounds else {
            return Ok(None);
        };
        if max.is_some_and(|max| max < min) || min.max(max.unwrap_or(0)) > MAX_REPEAT {
            return error(format!("invalid repetition `{{{inner}}}`"));
        }
        self.at += inner.chars().count() + 1;
        Ok(Some((min, max)))
    }
}

/// Whether `node` can match the empty string.
fn nullable(node: &Node) -> bool {
    match node {
        Node::Empty | Node::Start | Node::End => true,
        Node::Char(_) | Node::Any | Node::Class(_) => false,
        Node::Group(inner, _) => nullable(inner),
        Node::Concat(items) => items.iter().all(nullable),
        Node::Alternation(branches) => branches.iter().any(nullable),
        Node::Repeat { node, min, .. } => *min == 0 || nullable(node),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inst {
    Char(char),
    Any,
    Class(usize),
    /// Try the first target, then the second.
    Split(usize, usize),
    Jump(usize),
    Save(usize),
    Start,
    End,
    Match,
}

#[derive(Default)]
struct Compiler {
    program: Vec<Inst>,
    classes: Vec<Class>,
}

impl Compiler {
    fn push(&mut self, inst: Inst) -> Result<usize, PatternError> {
        if self.program.len() >= MAX_PROGRAM {
            return error("pattern is too large once repetitions are expanded");
        }
        self.program.push(inst);
        Ok(self.program.len() - 1)
    }

    fn node(&mut self, node: &Node) -> Result<(), PatternError> {
        match node {
            Node::Empty => {}
            Node::Char(c) => {
                self.push(Inst::Char(*c))?;
            }
            Node::Any => {
                self.push(Inst::Any)?;
            }
            Node::Class(class) => {
                self.classes.push(class.clone());
                self.push(Inst::Class(self.classes.len() - 1))?;
            }
            Node::Start => {
                self.push(Inst::Start)?;
            }
            Node::End => {
                self.push(Inst::End)?;
            }
            Node::Group(inner, None) => self.node(inner)?,
            Node::Group(inner, Some(index)) => {
                self.push(Inst::Save(2 * index - 2))?;
                self.node(inner)?;
                self.push(Inst::Save(2 * index - 1))?;
            }
            Node::Concat(items) => {
                for item in items {
                    self.node(item)?;
                }
            }
            Node::Alternation(branches) => self.alternation(branches)?,
            Node::Repeat {
                node,
                min,
                max,
                greedy,
            } => self.repeat(node, *min, *max, *greedy)?,
        }
        Ok(())
    }

    fn alternation(&mut self, branches: &[Node]) -> Result<(), PatternError> {
        let mut jumps = Vec::new();
        for (index, branch) in branches.iter().enumerate() {
            if index + 1 == branches.len() {
                self.node(branch)?;
                break;
            }
            let split = self.push(Inst::Split(0, 0))?;
            self.node(branch)?;
            jumps.push(self.push(Inst::Jump(0))?);
            let next = self.program.len();
            self.program[split] = Inst::Split(split + 1, next);
        }
        let end = self.program.len();
        for jump in jumps {
            self.program[jump] = Inst::Jump(end);
        }
        Ok(())
    }

    fn repeat(
        &mut self,
        node: &Node,
        min: u32,
        max: Option<u32>,
        greedy: bool,
    ) -> Result<(), PatternError> {
        for _ in 0..min {
            self.node(node)?;
        }
        match max {
            None => {
                // loop: split(body, out); body; jump loop
                let split = self.push(Inst::Split(0, 0))?;
                self.node(node)?;
                self.push(Inst::Jump(split))?;
                let out = self.program.len();
                self.program[split] = self.choice(split + 1, out, greedy);
            }
            Some(max) => {
                // Each optional copy: split(body, end); body.
                let mut splits = Vec::new();
                for _ in min..max {
                    splits.push(self.push(Inst::Split(0, 0))?);
                    self.node(node)?;
                }
                let end = self.program.len();
                for split in splits {
                    self.program[split] = self.choice(split + 1, end, greedy);
                }
            }
        }
        Ok(())
    }

    fn choice(&self, take: usize, skip: usize, greedy: bool) -> Inst {
        if greedy {
            Inst::Split(take, skip)
        } else {
            Inst::Split(skip, take)
        }
    }
}

enum Job {
    Step { pc: usize, at: usize },
    Restore { slot: usize, value: Option<usize> },
}

struct Backtracker<'p, 't> {
    pattern: &'p Pattern,
    text: &'t str,
    visited: Vec<u64>,
    slots: Vec<Option<usize>>,
}

impl<'p, 't> Backtracker<'p, 't> {
    fn new(pattern: &'p Pattern, text: &'t str) -> Self {
        let cells = pattern.program.len() * (text.len() + 1);
        Backtracker {
            pattern,
            text,
            visited: vec![0; cells.div_ceil(64)],
            slots: vec![None; 2 * pattern.groups],
        }
    }

    /// First visit of (pc, at)?
    fn first_visit(&mut self, pc: usize, at: usize) -> bool {
        let cell = pc * (self.text.len() + 1) + at;
        let (word, bit) = (cell / 64, 1u64 << (cell % 64));
        let first = self.visited[word] & bit == 0;
        self.visited[word] |= bit;
        first
    }

    fn run(mut self) -> Option<Vec<Option<usize>>> {
        let mut stack = vec![Job::Step { pc: 0, at: 0 }];
        while let Some(job) = stack.pop() {
            let (mut pc, mut at) = match job {
                Job::Restore { slot, value } => {
                    self.slots[slot] = value;
                    continue;
                }
                Job::Step { pc, at } => (pc, at),
            };
            // Follow one thread until it fails or matches.
            loop {
                if !self.first_visit(pc, at) {
                    break;
                }
                match self.pattern.program[pc] {
                    Inst::Match if at == self.text.len() => return Some(self.slots),
                    Inst::Match => break,
                    Inst::Start if at == 0 => pc += 1,
                    Inst::End if at == self.text.len() => pc += 1,
                    Inst::Start | Inst::End => break,
                    Inst::Jump(target) => pc = target,
                    Inst::Split(first, second) => {
                        stack.push(Job::Step { pc: second, at });
                        pc = first;
                    }
                    Inst::Save(slot) => {
                        stack.push(Job::Restore {
                            slot,
                            value: self.slots[slot],
                        });
                        self.slots[slot] = Some(at);
                        pc += 1;
                    }
                    Inst::Char(_) | Inst::Any | Inst::Class(_) => {
                        let Some(c) = self.text[at..].chars().next() else {
                            break;
                        };
                        if !self.consumes(self.pattern.program[pc], c) {
                            break;
                        }
                        pc += 1;
                        at += c.len_utf8();
                    }
                }
            }
        }
        None
    }

    fn consumes(&self, inst: Inst, c: char) -> bool {
        match inst {
            Inst::Char(expected) => c == expected,
            Inst::Any => c != '\n',
            Inst::Class(index) => self.pattern.classes[index].matches(c),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(pattern: &str, text: &str) -> Option<String> {
        Pattern::new(pattern)
            .unwrap()
            .first_group(text)
            .map(str::to_string)
    }

    #[test]
    fn matches_whole_values_and_captures_the_first_group() {
        assert_eq!(
            group("metrics-(.+)", "metrics-team-a"),
            Some("team-a".into())
        );
        assert_eq!(group("metrics-(.+)", "x-metrics-team-a"), None);
        assert_eq!(group("metrics-(.+)", "metrics-"), None);
        assert_eq!(
            group("(?:grp|group):(\\w+)", "group:ops_1"),
            Some("ops_1".into())
        );
        assert_eq!(
            group("(?P<p>[a-z]+)-\\d{2,3}", "abc-123"),
            Some("abc".into())
        );
        assert_eq!(group("(a+?)(a*)", "aaa"), Some("a".into()));
        assert_eq!(group("(a*)(a*)", "aaa"), Some("aaa".into()));
        assert_eq!(group("^/?org/([^/]+)$", "/org/x"), Some("x".into()));
        assert_eq!(group("(x)|y", "y"), None, "group 1 took no part");
        assert_eq!(group("[]a-]+(b)", "]-ab"), Some("b".into()));
        assert_eq!(group("a{2}(.)", "aab"), Some("b".into()));
        assert_eq!(
            group("a{,2}(.)", "a{,2}b"),
            Some("b".into()),
            "literal brace"
        );
        assert_eq!(group("(\\x41)", "A"), Some("A".into()));
        assert_eq!(group("(é+)", "éé"), Some("éé".into()));
    }

    #[test]
    fn matching_time_stays_linear() {
        let long = "a".repeat(MAX_TEXT_BYTES - 1);
        assert_eq!(
            group("(a+)+(a|aa)+(a+)+c", &long),
            None,
            "linear, not exponential"
        );
        assert_eq!(group("((a|b)+)+", &long), Some(long.clone()));
        assert_eq!(group("(.*)", &"a".repeat(MAX_TEXT_BYTES + 1)), None);
    }

    #[test]
    fn unsupported_syntax_is_refused() {
        for bad in [
            "(?i)a",
            "\\bword",
            "\\pL",
            "[[:alpha:]]",
            "(a",
            "a)",
            "*a",
            "a**",
            "[a",
            "[z-a]",
            "a{3,2}",
            "a{1000}",
            "\\q",
            "(?=a)",
            "[\\D]",
            "(a*)*",
            "(a|)+",
            "(?:b?c*)*",
            "(^)*",
            "(a{0,2})+",
        ] {
            assert!(Pattern::new(bad).is_err(), "{bad}");
        }
    }
}

/// The matcher agrees with the `regex` crate (RE2 syntax, leftmost-first)
/// on patterns built from the supported syntax, with `^(?:...)$` around
/// them for the whole-value match. Texts are ASCII without `\v`, where
/// `regex`'s Unicode classes and RE2's ASCII ones agree.
#[cfg(test)]
mod reference {
    use super::Pattern;
    use proptest::prelude::*;

    fn atom() -> impl Strategy<Value = String> {
        prop_oneof![
            "[abc]".prop_map(String::from),
            Just(".".to_string()),
            Just("\\d".to_string()),
            Just("\\w".to_string()),
            Just("\\s".to_string()),
            Just("\\W".to_string()),
            Just("[a-c]".to_string()),
            Just("[^b]".to_string()),
            Just("[\\d-]".to_string()),
            Just("\\.".to_string()),
            Just("-".to_string()),
        ]
    }

    fn quantifier() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "", "", "", "*", "+", "?", "*?", "+?", "??", "{2}", "{1,3}", "{0,}", "{1,2}?",
        ])
    }

    fn pattern() -> impl Strategy<Value = String> {
        let piece = (atom(), quantifier()).prop_map(|(a, q)| format!("{a}{q}"));
        let leaf = prop::collection::vec(piece, 1..4).prop_map(|p| p.concat());
        leaf.prop_recursive(3, 24, 3, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}|{b}")),
                (inner.clone(), quantifier()).prop_map(|(a, q)| format!("({a}){q}")),
                (inner.clone(), quantifier()).prop_map(|(a, q)| format!("(?:{a}){q}")),
                (inner.clone(), inner).prop_map(|(a, b)| format!("{a}({b})")),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn first_group_agrees_with_the_regex_crate(
            body in pattern(),
            text in "[abc1 .\\-_\t\n]{0,8}",
        ) {
            let source = format!("x(?:{body})");
            // Loops over what can match nothing are refused, not matched.
            let Ok(ours) = Pattern::new(&source) else {
                return Ok(());
            };
            let reference = regex::Regex::new(&format!("^(?:{source})$")).unwrap();
            let subject = format!("x{text}");
            let expected = reference
                .captures(&subject)
                .and_then(|captures| captures.get(1))
                .map(|group| group.as_str());
            prop_assert_eq!(ours.first_group(&subject), expected, "{} on {:?}", source, subject);
        }
    }
}
