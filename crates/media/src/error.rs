//! The one error type of this crate.

use std::time::Duration;

use crate::Format;

/// Why bytes could not be turned into pixels (or hashed).
///
/// Every variant is an expected outcome on hostile or broken input: callers map them to a
/// 4xx answer or a line in an import report, never to a crash. [`MediaError::kind`] gives a
/// stable short code for APIs and logs (the `Display` text may change).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// Zero bytes were given.
    #[error("the input is empty")]
    Empty,
    /// The input is larger than [`Limits::max_input_bytes`](crate::Limits::max_input_bytes).
    #[error("the input is {size} bytes, more than the limit of {limit} bytes")]
    TooLarge {
        /// Size of the input in bytes.
        size: u64,
        /// The limit in force.
        limit: u64,
    },
    /// The header announces more pixels than [`Limits::max_pixels`](crate::Limits::max_pixels).
    /// Checked before any pixel buffer is allocated.
    #[error(
        "the image is {width}x{height} ({pixels} pixels), more than the limit of {limit} pixels"
    )]
    TooManyPixels {
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
        /// `width * height`.
        pixels: u64,
        /// The limit in force.
        limit: u64,
    },
    /// A side is longer than [`Limits::max_dimension`](crate::Limits::max_dimension).
    #[error("the image is {width}x{height}, a side is longer than the limit of {limit} pixels")]
    DimensionTooLarge {
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
        /// The limit in force.
        limit: u32,
    },
    /// Decoding would need more memory than [`Limits::max_alloc`](crate::Limits::max_alloc).
    #[error(
        "decoding would exceed the allocation limit of {limit} bytes{}",
        needed.map(|n| format!(" (it needs about {n})")).unwrap_or_default()
    )]
    AllocationLimit {
        /// Bytes needed for the pixel buffer, when known (`None`: a decoder refused an
        /// internal buffer, e.g. a TIFF strip claiming gigabytes).
        needed: Option<u64>,
        /// The limit in force.
        limit: u64,
    },
    /// The bytes are not one of the supported formats. The string names what was recognised
    /// (`"heif"`, `"pdf"`, …) or is `"unknown"`.
    #[error("unsupported format: {0}")]
    UnsupportedFormat(&'static str),
    /// A supported format, but a feature of it that the decoder does not handle
    /// (e.g. a TIFF colour model, 12-bit JPEG, arithmetic coding).
    #[error("unsupported {format} feature: {detail}")]
    Unsupported {
        /// The sniffed format.
        format: Format,
        /// What the decoder said.
        detail: String,
    },
    /// The data ends before the image does.
    #[error("truncated {format} data: {detail}")]
    Truncated {
        /// The sniffed format.
        format: Format,
        /// What was missing.
        detail: String,
    },
    /// The data is malformed (bad header, bad checksum, impossible values, zero size…).
    #[error("corrupt {format} data: {detail}")]
    Corrupt {
        /// The sniffed format.
        format: Format,
        /// What the decoder said.
        detail: String,
    },
    /// Decoding ran past [`Limits::max_decode_time`](crate::Limits::max_decode_time).
    #[error("decoding took {elapsed:?}, more than the limit of {limit:?}")]
    TimedOut {
        /// Time spent when the deadline was noticed.
        elapsed: Duration,
        /// The limit in force.
        limit: Duration,
    },
    /// Reading the input failed (only from [`crate::Digests::from_reader`] and file helpers).
    #[error("read error: {0}")]
    Io(#[from] std::io::Error),
}

impl MediaError {
    /// A stable snake_case code for this error, for API bodies, metrics labels and reports.
    pub fn kind(&self) -> &'static str {
        match self {
            MediaError::Empty => "empty",
            MediaError::TooLarge { .. } => "too_large",
            MediaError::TooManyPixels { .. } => "too_many_pixels",
            MediaError::DimensionTooLarge { .. } => "dimension_too_large",
            MediaError::AllocationLimit { .. } => "allocation_limit",
            MediaError::UnsupportedFormat(_) => "unsupported_format",
            MediaError::Unsupported { .. } => "unsupported_feature",
            MediaError::Truncated { .. } => "truncated",
            MediaError::Corrupt { .. } => "corrupt",
            MediaError::TimedOut { .. } => "timed_out",
            MediaError::Io(_) => "io",
        }
    }

    /// True when the input itself is at fault (as opposed to a limit or an I/O failure):
    /// unsupported, truncated or corrupt data.
    pub fn is_bad_data(&self) -> bool {
        matches!(
            self,
            MediaError::Empty
                | MediaError::UnsupportedFormat(_)
                | MediaError::Unsupported { .. }
                | MediaError::Truncated { .. }
                | MediaError::Corrupt { .. }
        )
    }

    /// True when a configured limit refused the input.
    pub fn is_limit(&self) -> bool {
        matches!(
            self,
            MediaError::TooLarge { .. }
                | MediaError::TooManyPixels { .. }
                | MediaError::DimensionTooLarge { .. }
                | MediaError::AllocationLimit { .. }
                | MediaError::TimedOut { .. }
        )
    }
}
