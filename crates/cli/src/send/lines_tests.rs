use super::*;

/// The lines of `chunks`, as (number, text, overlong).
fn split(chunks: &[&[u8]]) -> Vec<(u64, Vec<u8>, bool)> {
    let mut splitter = LineSplitter::new();
    let mut lines = Vec::new();
    let mut collect = |line: Line<'_>| lines.push((line.number, line.text.to_vec(), line.overlong));
    for chunk in chunks {
        splitter.feed(chunk, &mut collect);
    }
    splitter.finish(&mut collect);
    lines
}

/// The records `--multiline` makes of `text`, as (first line, text).
fn group(text: &str) -> Vec<(u64, String)> {
    let mut splitter = LineSplitter::new();
    let mut grouper = Grouper::new(true);
    let mut records = Vec::new();
    let mut collect = |record: Record<'_>| {
        let text = String::from_utf8(record.text.to_vec()).expect("utf-8");
        records.push((record.line, text));
    };
    let mut on_line = |line: Line<'_>| grouper.push(line, &mut collect);
    splitter.feed(text.as_bytes(), &mut on_line);
    splitter.finish(&mut on_line);
    grouper.flush(&mut collect);
    records
}

#[test]
fn lines_split_across_chunks_are_joined_and_numbered() {
    let lines = split(&[b"one\r\ntw", b"o\n", b"\nthree"]);
    assert_eq!(
        lines,
        vec![
            (1, b"one".to_vec(), false),
            (2, b"two".to_vec(), false),
            (3, b"".to_vec(), false),
            (4, b"three".to_vec(), false),
        ]
    );
}

#[test]
fn a_line_past_the_limit_is_cut_and_marked_without_touching_the_next() {
    let long = vec![b'x'; MAX_RECORD_BYTES + 10];
    let (first, rest) = long.split_at(MAX_RECORD_BYTES / 2);
    let lines = split(&[b"short\n", first, rest, b"\nafter\n"]);
    assert_eq!(lines.len(), 3);
    assert_eq!(
        (lines[1].0, lines[1].1.len(), lines[1].2),
        (2, MAX_RECORD_BYTES, true)
    );
    assert_eq!(lines[2], (3, b"after".to_vec(), false));

    let whole = [long.as_slice(), b"\n"].concat();
    let lines = split(&[&whole]);
    assert_eq!((lines[0].1.len(), lines[0].2), (MAX_RECORD_BYTES, true));
}

#[test]
fn numbering_restarts_after_the_file_changed() {
    let mut splitter = LineSplitter::new();
    let mut numbers = Vec::new();
    let mut collect = |line: Line<'_>| numbers.push(line.number);
    splitter.feed(b"a\nb\npartial", &mut collect);
    splitter.finish(&mut collect);
    splitter.restart_numbering();
    splitter.feed(b"c\n", &mut collect);
    assert_eq!(numbers, [1, 2, 3, 1]);
}

#[test]
fn java_stack_traces_join_into_one_record() {
    let text = "INFO start\n\
                ERROR request failed\n\
                java.lang.IllegalStateException: boom\n\
                \tat com.example.Handler.run(Handler.java:42)\n\
                \tat java.base/java.lang.Thread.run(Thread.java:840)\n\
                Caused by: java.io.IOException: disk\n\
                \t... 2 more\n\
                ... 3 more\n\
                INFO next\n";
    let records = group(text);
    assert_eq!(records.len(), 4, "{records:?}");
    assert_eq!(records[0], (1, "INFO start".to_string()));
    assert_eq!(records[1], (2, "ERROR request failed".to_string()));
    assert_eq!(records[2].0, 3);
    assert!(
        records[2]
            .1
            .starts_with("java.lang.IllegalStateException: boom\n\tat com.")
    );
    assert!(
        records[2]
            .1
            .ends_with("Caused by: java.io.IOException: disk\n\t... 2 more\n... 3 more")
    );
    assert_eq!(records[3], (9, "INFO next".to_string()));
}

#[test]
fn json_lines_never_take_continuation_lines_and_blank_lines_are_skipped() {
    let records = group("{\"msg\": \"a\"}\n  indented\n\n  more\nplain\n");
    assert_eq!(
        records,
        vec![
            (1, "{\"msg\": \"a\"}".to_string()),
            (2, "  indented\n  more".to_string()),
            (5, "plain".to_string()),
        ]
    );
}

#[test]
fn continuation_lines_are_recognised_by_their_start() {
    for text in ["  x", "\tat a.b(C.java:1)", "Caused by: e", "... 12 more"] {
        assert!(is_continuation(text.as_bytes()), "{text}");
    }
    for text in ["x", "... more", "...12 more", "Caused", "{\"a\":1}"] {
        assert!(!is_continuation(text.as_bytes()), "{text}");
    }
}

#[test]
fn without_multiline_every_non_blank_line_is_a_record() {
    let mut grouper = Grouper::new(false);
    let mut count = 0;
    let mut collect = |_: Record<'_>| count += 1;
    for (number, text) in [(1, "a"), (2, "  b"), (3, " "), (4, "Caused by: c")] {
        let line = Line {
            text: text.as_bytes(),
            number,
            overlong: false,
        };
        grouper.push(line, &mut collect);
    }
    assert_eq!(count, 3);
    assert!(grouper.pending_since().is_none());
}
