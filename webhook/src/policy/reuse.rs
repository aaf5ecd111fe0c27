//! Answers kept for policies that cannot tell two identical inputs apart.
//!
//! A component that imports nothing runs in a sandbox with no clock, no randomness and no
//! I/O: its answer is a function of its input alone. When it also reads only the
//! [`InputScope::Images`] input, which names no single object, pods of one template in one
//! namespace give it the same input byte for byte, and it is asked again for an answer it
//! already gave. Only answers are kept: a failed call (trap, timeout, bad output) runs again.
//! The key is every part the input text is encoded from (the request summary, the images,
//! the settings and the context), compared whole, so any change of verdict, digest, stale
//! flag, settings or context is a different key; a reused answer encodes nothing.
//!
//! [`InputScope::Images`]: super::InputScope::Images

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use quick_cache::sync::Cache;
use quick_cache::{Equivalent, Weighter};

use super::contract::{KeptSummary, RequestSummary};
use super::{ImageInput, PolicyContext, PolicyOutput};

/// Why a component with these imports never has its answers reused, or `None` when it
/// qualifies (its entry must still read `input: images`): an import is a way for its answer
/// to depend on something besides its input.
pub fn reuse_blocker(imports: &[&str]) -> Option<String> {
    match imports {
        [] => None,
        names => Some(format!(
            "it imports {} (an answer may depend on more than its input)",
            names.join(", ")
        )),
    }
}

/// Bytes of inputs and answers kept per policy.
pub const ANSWER_BYTES: u64 = 1 << 20;

/// Inputs larger than this are not kept (a workload with very many images).
const MAX_INPUT_BYTES: usize = 64 << 10;

/// What an [`InputScope::Images`] policy is asked, borrowed from the review: the parts its
/// input text is encoded from, so a kept answer is found without encoding anything.
///
/// [`InputScope::Images`]: super::InputScope::Images
#[derive(Debug)]
pub(crate) struct Question<'a> {
    /// The request as summarised for the policy.
    pub request: RequestSummary<'a>,
    /// The images with their verdicts.
    pub images: &'a [ImageInput],
    /// The policy's settings.
    pub settings: &'a serde_json::Value,
    /// How the answer is used.
    pub context: &'a PolicyContext,
}

/// A [`Question`] kept with its answer; the images are shared with the review's sandboxes.
struct Key {
    request: KeptSummary,
    images: Arc<[ImageInput]>,
    settings: serde_json::Value,
    context: PolicyContext,
}

// The settings are left out of the hash (a JSON value has none) but not out of the
// comparison. A key hashes and compares as the question it keeps, so a question finds it.
impl Hash for Question<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self.request, self.images, self.context).hash(state);
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Question::from(self).hash(state);
    }
}

impl Equivalent<Key> for Question<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        self.request == key.request.view()
            && self.images == &*key.images
            && self.context == &key.context
            && self.settings == &key.settings
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        Question::from(self).equivalent(other)
    }
}

impl Eq for Key {}

impl<'a> From<&'a Key> for Question<'a> {
    fn from(key: &'a Key) -> Self {
        Self {
            request: key.request.view(),
            images: &key.images,
            settings: &key.settings,
            context: &key.context,
        }
    }
}

/// A policy's kept answers, by the question they answer.
pub struct Answers {
    cache: Cache<Key, Arc<Kept>, ByBytes>,
}

struct Kept {
    output: PolicyOutput,
    /// The input's text length and the answer's heap bytes: what keeping it costs, roughly.
    bytes: u64,
}

#[derive(Clone)]
struct ByBytes;

impl Weighter<Key, Arc<Kept>> for ByBytes {
    fn weight(&self, _: &Key, val: &Arc<Kept>) -> u64 {
        val.bytes
    }
}

impl Answers {
    /// No answers yet; room for [`ANSWER_BYTES`].
    pub fn new() -> Self {
        // About 1 KiB per entry for a pod of a few images.
        let estimated = usize::try_from(ANSWER_BYTES / 1024).unwrap_or(1024);
        Self {
            cache: Cache::with_weighter(estimated, ANSWER_BYTES, ByBytes),
        }
    }

    /// The answer given to exactly `question` before, if kept.
    pub(crate) fn get(&self, question: &Question<'_>) -> Option<PolicyOutput> {
        self.cache.get(question).map(|kept| kept.output.clone())
    }

    /// Keeps `output` as the answer to `question`, whose input text is `input_len` bytes
    /// and whose images are `images` (the review's shared copy).
    pub(crate) fn keep(
        &self,
        question: &Question<'_>,
        images: Arc<[ImageInput]>,
        input_len: usize,
        output: &PolicyOutput,
    ) {
        if input_len > MAX_INPUT_BYTES || *images != *question.images {
            return;
        }
        let key = Key {
            request: question.request.kept(),
            images,
            settings: question.settings.clone(),
            context: question.context.clone(),
        };
        let kept = Arc::new(Kept {
            output: output.clone(),
            bytes: input_len as u64 + output_bytes(output),
        });
        self.cache.insert(key, kept);
    }
}

impl Default for Answers {
    fn default() -> Self {
        Self::new()
    }
}

/// Roughly what an answer holds on the heap (its patch counted as its JSON).
fn output_bytes(output: &PolicyOutput) -> u64 {
    let text = output.message.as_ref().map_or(0, String::len)
        + output.warnings.iter().map(String::len).sum::<usize>();
    let patch = output
        .patch
        .as_ref()
        .and_then(|p| serde_json::to_string(p).ok())
        .map_or(0, |p| p.len());
    (std::mem::size_of::<PolicyOutput>() + text + patch) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mode::{Mode, OnUndetermined};
    use crate::policy::{ContainerType, ObjectText, RequestInfo};
    use crate::verdict::VerdictClass;

    fn deny(message: &str) -> PolicyOutput {
        PolicyOutput {
            allowed: false,
            message: Some(message.into()),
            ..PolicyOutput::default()
        }
    }

    fn request(namespace: &str) -> RequestInfo {
        RequestInfo {
            uid: "u1".into(),
            group: String::new(),
            kind: "Pod".into(),
            sub_resource: None,
            operation: "CREATE".into(),
            namespace: Some(namespace.into()),
            name: "web".into(),
            user_info: Default::default(),
            dry_run: false,
            object: ObjectText::from_value(&serde_json::json!({})),
        }
    }

    fn image(reference: &str, verdict: VerdictClass) -> ImageInput {
        ImageInput {
            path: "spec.containers[0].image".into(),
            container: "app".into(),
            container_type: ContainerType::Container,
            reference: reference.into(),
            normalized: None,
            verdict,
            digest: None,
            detail: String::new(),
            stale: false,
        }
    }

    const CONTEXT: PolicyContext = PolicyContext {
        mode: Mode::Enforce,
        on_undetermined: OnUndetermined::Allow,
        mutating: false,
    };

    fn question<'a>(
        request: &'a RequestInfo,
        images: &'a [ImageInput],
        settings: &'a serde_json::Value,
    ) -> Question<'a> {
        Question {
            request: RequestSummary::from(request),
            images,
            settings,
            context: &CONTEXT,
        }
    }

    fn keep(answers: &Answers, question: &Question<'_>, len: usize, output: &PolicyOutput) {
        answers.keep(question, question.images.into(), len, output);
    }

    #[test]
    fn answers_only_the_same_question() {
        let answers = Answers::new();
        let (shop, null) = (request("shop"), serde_json::Value::Null);
        let absent = [image("app:1", VerdictClass::Absent)];
        keep(
            &answers,
            &question(&shop, &absent, &null),
            100,
            &deny("absent"),
        );
        let again = [image("app:1", VerdictClass::Absent)];
        assert_eq!(
            answers.get(&question(&shop, &again, &null)),
            Some(deny("absent"))
        );
        let landed = [image("app:1", VerdictClass::Landed)];
        assert_eq!(answers.get(&question(&shop, &landed, &null)), None);
        let settings = serde_json::json!({"tags": ["latest"]});
        assert_eq!(answers.get(&question(&shop, &absent, &settings)), None);
        let staging = request("staging");
        assert_eq!(answers.get(&question(&staging, &absent, &null)), None);
    }

    #[test]
    fn holds_no_more_than_its_room() {
        let answers = Answers::new();
        let (shop, null) = (request("shop"), serde_json::Value::Null);
        let images = |i: usize| [image(&format!("app:{i}"), VerdictClass::Landed)];
        let entries = 20_000;
        for i in 0..entries {
            let images = images(i);
            keep(
                &answers,
                &question(&shop, &images, &null),
                1000,
                &PolicyOutput::allow(),
            );
        }
        let kept = (0..entries)
            .filter(|&i| answers.get(&question(&shop, &images(i), &null)).is_some())
            .count();
        assert!(kept > 0, "keeps recent answers");
        assert!(
            (kept as u64) * 1000 <= ANSWER_BYTES,
            "{kept} answers of 1000 bytes kept in {ANSWER_BYTES} bytes"
        );
    }

    #[test]
    fn does_not_keep_huge_inputs() {
        let answers = Answers::new();
        let (shop, null) = (request("shop"), serde_json::Value::Null);
        let images = [image("app:1", VerdictClass::Landed)];
        let huge = question(&shop, &images, &null);
        keep(&answers, &huge, MAX_INPUT_BYTES + 1, &PolicyOutput::allow());
        assert_eq!(answers.get(&huge), None);
    }
}
