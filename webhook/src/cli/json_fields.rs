//! Span fields for the JSON log format, written as a JSON object straight to the span's buffer.
//!
//! tracing-subscriber's own `JsonFields` gathers every field into a map of
//! `serde_json::Value`s and serializes the map, one allocation per field, for each span
//! opened. Every review opens one, so that showed in the webhook's profile; this writes the
//! same object with no intermediate values. The JSON event formatter still reads the buffer
//! back as a JSON object, so the output must stay one.

use std::fmt::{self, Write};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FormatFields, FormattedFields};

/// Formats span fields as one flat JSON object, keys in the order the fields were recorded.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonSpanFields;

impl<'writer> FormatFields<'writer> for JsonSpanFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut object = Object::new(&mut writer);
        fields.record(&mut object);
        object.finish()
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        // Reopen the object written so far: drop its closing brace, go on after a comma.
        let out = &mut current.fields;
        if out.pop() != Some('}') {
            // Only objects are ever written here; anything else starts over as one.
            out.clear();
            out.push('{');
        }
        let mut object = Object {
            empty: out.len() == 1,
            out,
            result: Ok(()),
        };
        fields.record(&mut object);
        object.finish()
    }
}

/// A JSON object being written, one member per visited field.
struct Object<'a> {
    out: &'a mut dyn Write,
    empty: bool,
    result: fmt::Result,
}

impl<'a> Object<'a> {
    fn new(out: &'a mut dyn Write) -> Self {
        let result = out.write_char('{');
        Self {
            out,
            empty: true,
            result,
        }
    }

    /// Writes `"name":`, after a comma unless it is the first member.
    fn key(&mut self, field: &Field) -> fmt::Result {
        self.result?;
        if !self.empty {
            self.out.write_char(',')?;
        }
        self.empty = false;
        let name = field.name();
        // Raw identifiers (`r#type`) are logged under their plain name.
        let name = name.strip_prefix("r#").unwrap_or(name);
        self.out.write_char('"')?;
        Escaped(&mut *self.out).write_str(name)?;
        self.out.write_str("\":")
    }

    fn member(&mut self, field: &Field, value: impl FnOnce(&mut dyn Write) -> fmt::Result) {
        let result = self.key(field).and_then(|()| value(&mut *self.out));
        self.result = result;
    }

    fn string(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        self.member(field, |out| {
            out.write_char('"')?;
            Escaped(&mut *out).write_fmt(value)?;
            out.write_char('"')
        });
    }

    fn finish(self) -> fmt::Result {
        self.result?;
        self.out.write_char('}')
    }
}

impl Visit for Object<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no NaN or infinity; serde_json writes those as null too.
        if value.is_finite() {
            self.member(field, |out| write!(out, "{value}"));
        } else {
            self.member(field, |out| out.write_str("null"));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.string(field, format_args!("{value}"));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.string(field, format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.string(field, format_args!("{value:?}"));
    }
}

/// Writes text as the inside of a JSON string.
struct Escaped<'a>(&'a mut dyn Write);

impl Write for Escaped<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut plain = 0;
        for (at, byte) in text.bytes().enumerate() {
            let escape = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f => "",
                _ => continue,
            };
            self.0.write_str(&text[plain..at])?;
            if escape.is_empty() {
                write!(self.0, "\\u{byte:04x}")?;
            } else {
                self.0.write_str(escape)?;
            }
            plain = at + 1;
        }
        self.0.write_str(&text[plain..])
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use super::JsonSpanFields;

    /// Log lines written by a JSON subscriber using these span fields, one parsed object each.
    fn logged(body: impl FnOnce()) -> Vec<serde_json::Value> {
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
                self.0
                    .lock()
                    .map_err(|_| io::ErrorKind::Other)?
                    .extend(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .fmt_fields(JsonSpanFields)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, body);
        let text = String::from_utf8(buffer.0.lock().expect("buffer").clone()).expect("utf-8");
        text.lines()
            .map(|line| serde_json::from_str(line).expect("each line is one JSON object"))
            .collect()
    }

    #[test]
    fn span_fields_reach_the_event_line_as_json_values() {
        let nasty = "quote \" backslash \\ newline \n tab \t bell \u{7} escape \u{1b}[31m é ✓";
        let lines = logged(|| {
            let span = tracing::info_span!(
                "review",
                uid = %"4b5c",
                r#type = "pod",
                text = nasty,
                count = 3u64,
                delta = -2i64,
                big = u128::MAX,
                ratio = 0.5f64,
                bad = f64::NAN,
                ok = true,
                operation = ?Some("CREATE"),
            );
            let _enter = span.enter();
            tracing::info!(decision = "allow", "review decided");
        });
        assert_eq!(lines.len(), 1);
        let span = &lines[0]["span"];
        assert_eq!(span["name"], "review");
        assert_eq!(span["uid"], "4b5c");
        assert_eq!(span["type"], "pod");
        assert_eq!(span["text"], nasty);
        assert_eq!(span["count"], 3);
        assert_eq!(span["delta"], -2);
        // As text, as tracing-subscriber's own JSON fields write it: JSON readers lose digits.
        assert_eq!(span["big"], u128::MAX.to_string());
        assert_eq!(span["ratio"], 0.5);
        assert!(span["bad"].is_null());
        assert_eq!(span["ok"], true);
        assert_eq!(span["operation"], "Some(\"CREATE\")");
        assert_eq!(lines[0]["decision"], "allow");
    }

    #[test]
    fn fields_recorded_later_join_the_same_object() {
        let lines = logged(|| {
            let quiet = tracing::info_span!("quiet", later = tracing::field::Empty);
            quiet.record("later", "set \"afterwards\"");
            let _outer = quiet.enter();
            let span = tracing::info_span!("review", uid = "1", latency = tracing::field::Empty);
            span.record("latency", 1.25f64);
            let _enter = span.enter();
            tracing::info!("done");
        });
        assert_eq!(lines[0]["span"]["uid"], "1");
        assert_eq!(lines[0]["span"]["latency"], 1.25);
        let outer = &lines[0]["spans"][0];
        assert_eq!(outer["name"], "quiet");
        assert_eq!(outer["later"], "set \"afterwards\"");
    }
}
