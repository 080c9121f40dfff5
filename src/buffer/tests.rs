//! The read buffer and the outbox, against in-memory readers and writers.

use super::*;

#[test]
fn read_buffer_frames_lines_across_reads_and_hands_its_storage_on() {
    let mut spare = SpareBuffer::default();
    let mut buf = ReadBuf::new();
    let mut input: &[u8] = b"ONE\nTW";
    assert_eq!(buf.read_from(&mut input, &mut spare).unwrap(), 6);
    assert_eq!(buf.next_line(64), Ok(Some("ONE")));
    assert_eq!(buf.next_line(64), Ok(None));
    assert_eq!(buf.len(), 2);
    let mut more: &[u8] = b"O\n";
    buf.read_from(&mut more, &mut spare).unwrap();
    assert_eq!(buf.next_line(64), Ok(Some("TWO")));
    buf.release_if_empty(&mut spare);
    assert_eq!(buf.bytes.capacity(), 0, "an idle buffer holds no storage");
    assert_eq!(spare.0.len(), READ_CHUNK, "the spare has it");

    let mut other = ReadBuf::new();
    let mut input: &[u8] = b"X\n";
    other.read_from(&mut input, &mut spare).unwrap();
    assert!(spare.0.is_empty(), "the next reader took it");
    assert_eq!(other.next_line(64), Ok(Some("X")));
}

#[test]
fn a_line_longer_than_one_read_grows_the_buffer() {
    let mut spare = SpareBuffer::default();
    let mut buf = ReadBuf::new();
    let long = format!("{}\n", "y".repeat(3 * READ_CHUNK));
    let mut input = long.as_bytes();
    while buf.next_line(4 * READ_CHUNK).unwrap().is_none() {
        buf.read_from(&mut input, &mut spare).unwrap();
    }
    buf.release_if_empty(&mut spare);
    assert!(spare.0.is_empty(), "a grown buffer is freed, not kept");
}

#[test]
fn a_tail_growing_a_byte_at_a_time_is_searched_once() {
    let mut spare = SpareBuffer::default();
    let mut buf = ReadBuf::new();
    let mut input: &[u8] = b"DONE\nSEND_MESSAGE [1,";
    buf.read_from(&mut input, &mut spare).unwrap();
    assert_eq!(buf.next_line(64), Ok(Some("DONE")));
    assert_eq!(buf.next_line(64), Ok(None));
    // A `\n` slipped into the part already searched is not seen: the proof that the
    // search does not start over. (A real buffer never changes under the search.)
    let start = buf.start;
    buf.bytes[start + 3] = b'\n';
    for byte in b"\"slow".iter().chain(b"ly\"]") {
        buf.read_from(&mut &[*byte][..], &mut spare).unwrap();
        assert_eq!(buf.next_line(64), Ok(None), "only the new byte is searched");
    }
    // Reading compacted the buffer (the consumed `DONE\n` is gone): the mark moved too.
    buf.read_from(&mut &b"\n"[..], &mut spare).unwrap();
    assert_eq!(buf.next_line(64), Ok(Some("SEN\n_MESSAGE [1,\"slowly\"]")));
    assert!(buf.is_empty());
}

#[test]
fn read_buffer_passes_end_of_stream_up() {
    let mut buf = ReadBuf::new();
    let mut empty: &[u8] = b"";
    assert_eq!(
        buf.read_from(&mut empty, &mut SpareBuffer::default())
            .unwrap(),
        0
    );
    assert!(buf.is_empty());
}

#[test]
fn a_read_is_short_when_the_source_had_less_than_the_room() {
    let mut spare = SpareBuffer::default();
    let mut buf = ReadBuf::new();
    let got = buf.read_some(&mut &b"hello\n"[..], &mut spare).unwrap();
    assert_eq!(got, Got { n: 6, short: true });
    let full = vec![b'x'; READ_CHUNK * 3];
    let got = ReadBuf::new()
        .read_some(&mut &full[..], &mut spare)
        .unwrap();
    assert_eq!(
        got,
        Got {
            n: READ_CHUNK,
            short: false
        },
        "a read that fills the buffer may have left more in the kernel"
    );
}
