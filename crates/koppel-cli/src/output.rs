//! Writing to stdout and stderr without panicking when the reader has gone
//! (`koppel validate FILE | head -1`): `println!` panics on a closed pipe.
//! Once a stream is found closed, later output to it is dropped silently;
//! the command itself runs to its end and keeps its exit code.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
static STDERR_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes formatted text to stdout; a closed stdout is not an error.
pub fn stdout(args: fmt::Arguments<'_>) {
    write_to(&mut io::stdout().lock(), &STDOUT_CLOSED, args);
}

/// Writes formatted text to stderr; a closed stderr is not an error.
pub fn stderr(args: fmt::Arguments<'_>) {
    write_to(&mut io::stderr().lock(), &STDERR_CLOSED, args);
}

fn write_to(out: &mut impl Write, closed: &AtomicBool, args: fmt::Arguments<'_>) {
    if closed.load(Ordering::Relaxed) {
        return;
    }
    // Any write error (a closed pipe, a full disk behind a redirection)
    // stops further output to this stream; there is nowhere to report it.
    if out.write_fmt(args).and_then(|()| out.flush()).is_err() {
        closed.store(true, Ordering::Relaxed);
    }
}

/// `print!` that never panics.
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::stdout(format_args!($($arg)*)) };
}

/// `println!` that never panics.
macro_rules! outln {
    () => { $crate::output::stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprintln!` that never panics.
macro_rules! errln {
    ($($arg:tt)*) => { $crate::output::stderr(format_args!("{}\n", format_args!($($arg)*))) };
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Closed;
    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_stream_is_remembered_not_a_panic() {
        let closed = AtomicBool::new(false);
        write_to(&mut Closed, &closed, format_args!("line\n"));
        assert!(closed.load(Ordering::Relaxed));
        write_to(&mut Closed, &closed, format_args!("again\n"));
    }
}
