//! Random passwords that a Cognito user pool accepts.

use rand::TryRngCore;
use rand::rngs::OsRng;

use super::error::{COGNITO_MAX_PASSWORD_LENGTH, CredentialError, DEFAULT_PASSWORD_LENGTH};
use crate::pb::v2::credential_options::RandomPassword;
use crate::secret::Secret;

/// Baton's smallest `random_password.length`; shorter requests are raised to it.
const BATON_MIN_PASSWORD_LENGTH: usize = 8;

/// The characters Cognito counts as symbols for `RequireSymbols`: every ASCII punctuation
/// character. (Cognito also counts an inner space, which is left out: a space is too easily lost
/// when a person copies the password.)
pub const COGNITO_SYMBOLS: &str = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+-";

const UPPERCASE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWERCASE: &str = "abcdefghijklmnopqrstuvwxyz";
const DIGITS: &str = "0123456789";

/// What DescribeUserPool says a password must contain (Cognito's `PasswordPolicyType`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_length: u32,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub require_numbers: bool,
    pub require_symbols: bool,
}

impl Default for PasswordPolicy {
    /// Cognito's policy for a pool created without one: 8 characters, all four classes.
    fn default() -> Self {
        Self {
            min_length: 8,
            require_uppercase: true,
            require_lowercase: true,
            require_numbers: true,
            require_symbols: true,
        }
    }
}

/// A random password from the OS CSPRNG that satisfies the pool policy and the caller's
/// `RandomPassword` options.
///
/// Its length is the largest of: the requested length (0 means [`DEFAULT_PASSWORD_LENGTH`], 1 to 7
/// are raised to Baton's minimum of 8), the policy's minimum, and the number of characters the
/// constraints and the policy's required classes need; above 256 (Cognito's maximum) the request is
/// refused. Each constraint contributes `min_count` characters drawn from its `char_set`, each class
/// the policy requires (and no constraint already guarantees) one character, and the rest come from
/// letters, digits and [`COGNITO_SYMBOLS`]; the whole is then shuffled, so no class sits at a fixed
/// position. Every draw is uniform (rejection sampling, no modulo bias).
///
/// Constraint character sets may hold only printable ASCII other than space: those are exactly the
/// characters Cognito sorts into its four classes, and a byte-oriented client (the Go SDK picks
/// bytes) cannot mangle them.
pub fn generate_password(
    policy: &PasswordPolicy,
    options: &RandomPassword,
) -> Result<Secret, CredentialError> {
    generate_with(&mut OsRng, policy, options)
}

/// [`generate_password`] with the random source as a parameter, so tests can make it fail.
fn generate_with<R: TryRngCore>(
    rng: &mut R,
    policy: &PasswordPolicy,
    options: &RandomPassword,
) -> Result<Secret, CredentialError> {
    let requested = match options.length {
        0 => DEFAULT_PASSWORD_LENGTH,
        n if n < 0 || n > COGNITO_MAX_PASSWORD_LENGTH as i64 => {
            return Err(CredentialError::InvalidLength(n));
        }
        // In range 1..=256 by the guard above.
        n => (n as usize).max(BATON_MIN_PASSWORD_LENGTH),
    };

    // The character sets every required character is drawn from, one entry per character.
    let mut draws: Vec<(Vec<u8>, u64)> = Vec::new();
    let mut required: u64 = 0;
    for (index, constraint) in options.constraints.iter().enumerate() {
        if constraint.min_count == 0 {
            continue;
        }
        let set = char_set(index, &constraint.char_set)?;
        required = required.saturating_add(u64::from(constraint.min_count));
        draws.push((set, u64::from(constraint.min_count)));
    }
    let classes = [
        (policy.require_uppercase, UPPERCASE),
        (policy.require_lowercase, LOWERCASE),
        (policy.require_numbers, DIGITS),
        (policy.require_symbols, COGNITO_SYMBOLS),
    ];
    for (wanted, class) in classes {
        // A constraint whose whole set lies in the class already puts one of it in the password.
        let covered = draws
            .iter()
            .any(|(set, _)| set.iter().all(|c| class.as_bytes().contains(c)));
        if wanted && !covered {
            required += 1;
            draws.push((class.as_bytes().to_vec(), 1));
        }
    }

    let length = required
        .max(requested as u64)
        .max(u64::from(policy.min_length));
    if length > COGNITO_MAX_PASSWORD_LENGTH as u64 {
        return Err(CredentialError::TooLong { required: length });
    }
    let length = length as usize; // <= 256 by the check above.

    let mut password: Vec<u8> = Vec::with_capacity(length);
    for (set, count) in &draws {
        for _ in 0..*count {
            password.push(pick(rng, set)?);
        }
    }
    let anything: Vec<u8> = [UPPERCASE, LOWERCASE, DIGITS, COGNITO_SYMBOLS]
        .concat()
        .into_bytes();
    while password.len() < length {
        password.push(pick(rng, &anything)?);
    }
    // Fisher–Yates: every arrangement equally likely.
    for i in (1..password.len()).rev() {
        let j = uniform_below(rng, i as u32 + 1)? as usize;
        password.swap(i, j);
    }

    // Only ASCII went in, so this cannot fail; no password text in the error either way.
    let text = String::from_utf8(password).map_err(|_| {
        CredentialError::Random("the generated password is not valid UTF-8".to_string())
    })?;
    Ok(Secret::new(text))
}

/// A constraint's character set, checked and with duplicates removed (so each distinct character
/// is equally likely, whatever the caller repeated).
fn char_set(index: usize, set: &str) -> Result<Vec<u8>, CredentialError> {
    if set.is_empty() {
        return Err(CredentialError::InvalidConstraint {
            index,
            reason: "char_set is empty but min_count asks for characters from it",
        });
    }
    if !set.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CredentialError::InvalidConstraint {
            index,
            reason: "char_set may contain only printable ASCII characters other than space \
                     (letters, digits and Cognito's symbols)",
        });
    }
    let mut bytes = set.as_bytes().to_vec();
    bytes.sort_unstable();
    bytes.dedup();
    Ok(bytes)
}

/// One character of `set`, uniformly.
fn pick<R: TryRngCore>(rng: &mut R, set: &[u8]) -> Result<u8, CredentialError> {
    // Sets are at most the 94 printable ASCII characters.
    let index = uniform_below(rng, set.len() as u32)?;
    Ok(set[index as usize])
}

/// A uniform integer in `0..n` (n > 0): values in the incomplete last block of size `2^32 mod n`
/// are drawn again, so every result has the same number of preimages.
fn uniform_below<R: TryRngCore>(rng: &mut R, n: u32) -> Result<u32, CredentialError> {
    debug_assert!(n > 0);
    let threshold = n.wrapping_neg() % n; // 2^32 mod n
    loop {
        let value = rng
            .try_next_u32()
            .map_err(|e| CredentialError::Random(e.to_string()))?;
        if value >= threshold {
            return Ok(value % n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::v2::PasswordConstraint;

    fn options(length: i64, constraints: &[(&str, u32)]) -> RandomPassword {
        RandomPassword {
            length,
            constraints: constraints
                .iter()
                .map(|(set, n)| PasswordConstraint {
                    char_set: set.to_string(),
                    min_count: *n,
                })
                .collect(),
        }
    }

    fn count_in(password: &str, set: &str) -> usize {
        password.chars().filter(|c| set.contains(*c)).count()
    }

    fn relaxed() -> PasswordPolicy {
        PasswordPolicy {
            min_length: 6,
            require_uppercase: false,
            require_lowercase: false,
            require_numbers: false,
            require_symbols: false,
        }
    }

    #[test]
    fn default_policy_is_cognitos() {
        assert_eq!(
            PasswordPolicy::default(),
            PasswordPolicy {
                min_length: 8,
                require_uppercase: true,
                require_lowercase: true,
                require_numbers: true,
                require_symbols: true,
            }
        );
    }

    #[test]
    fn symbols_are_cognitos_32_ascii_punctuation_characters() {
        assert_eq!(COGNITO_SYMBOLS.len(), 32);
        let mut sorted: Vec<char> = COGNITO_SYMBOLS.chars().collect();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 32);
        assert!(sorted.iter().all(char::is_ascii_punctuation));
    }

    #[test]
    fn length_rules() {
        let default = PasswordPolicy::default();
        let len = |policy: &PasswordPolicy, o: RandomPassword| {
            generate_password(policy, &o).unwrap().expose().len()
        };
        assert_eq!(len(&default, options(0, &[])), DEFAULT_PASSWORD_LENGTH);
        assert_eq!(len(&default, options(20, &[])), 20);
        assert_eq!(len(&default, options(64, &[])), 64);
        assert_eq!(len(&default, options(256, &[])), 256);
        // Raised to Baton's minimum, then to the policy's.
        assert_eq!(len(&relaxed(), options(3, &[])), 8);
        let strict = PasswordPolicy {
            min_length: 30,
            ..PasswordPolicy::default()
        };
        assert_eq!(len(&strict, options(12, &[])), 30);
        // Raised to what the constraints need, plus one each of the policy's other classes.
        assert_eq!(len(&default, options(10, &[("0123456789", 40)])), 43);
        assert_eq!(len(&relaxed(), options(10, &[("0123456789", 40)])), 40);
        assert!(matches!(
            generate_password(&default, &options(-1, &[])),
            Err(CredentialError::InvalidLength(-1))
        ));
        assert!(matches!(
            generate_password(&default, &options(257, &[])),
            Err(CredentialError::InvalidLength(257))
        ));
    }

    #[test]
    fn every_required_class_appears_and_nothing_else_does() {
        let policy = PasswordPolicy::default();
        let allowed = [UPPERCASE, LOWERCASE, DIGITS, COGNITO_SYMBOLS].concat();
        for _ in 0..2000 {
            // The shortest passwords are the ones where a class would most likely be missing.
            let secret = generate_password(&policy, &options(8, &[])).unwrap();
            let p = secret.expose();
            assert_eq!(p.len(), 8);
            for class in [UPPERCASE, LOWERCASE, DIGITS, COGNITO_SYMBOLS] {
                assert!(count_in(p, class) >= 1, "a class is missing");
            }
            assert!(p.chars().all(|c| allowed.contains(c)));
        }
    }

    #[test]
    fn every_character_of_the_alphabet_can_appear() {
        let allowed = [UPPERCASE, LOWERCASE, DIGITS, COGNITO_SYMBOLS].concat();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let secret = generate_password(&relaxed(), &options(64, &[])).unwrap();
            seen.extend(secret.expose().chars());
        }
        assert_eq!(seen.len(), allowed.len());
    }

    #[test]
    fn classes_have_no_fixed_position() {
        // With all four classes required in 8 characters, a generator that put the required
        // characters first would always start with an uppercase letter.
        let mut first = std::collections::HashSet::new();
        for _ in 0..400 {
            let secret = generate_password(&PasswordPolicy::default(), &options(8, &[])).unwrap();
            let c = secret.expose().chars().next().unwrap();
            first.insert(
                [UPPERCASE, LOWERCASE, DIGITS, COGNITO_SYMBOLS]
                    .iter()
                    .position(|class| class.contains(c))
                    .unwrap(),
            );
        }
        assert_eq!(first.len(), 4);
    }

    #[test]
    fn constraints_are_honoured() {
        let policy = PasswordPolicy::default();
        for _ in 0..500 {
            let secret = generate_password(
                &policy,
                &options(20, &[("xyz", 5), ("0123456789", 6), ("#!", 2), ("Q", 0)]),
            )
            .unwrap();
            let p = secret.expose();
            assert_eq!(p.len(), 20);
            assert!(count_in(p, "xyz") >= 5);
            assert!(count_in(p, DIGITS) >= 6);
            assert!(count_in(p, "#!") >= 2);
            assert!(count_in(p, UPPERCASE) >= 1);
        }
    }

    #[test]
    fn constraints_covering_a_class_need_no_extra_character() {
        // Uppercase and digits come from the constraints; lowercase and symbols from the policy.
        let secret = generate_password(
            &PasswordPolicy::default(),
            &options(8, &[("ABC", 3), ("0123456789", 3)]),
        )
        .unwrap();
        let p = secret.expose();
        assert_eq!(p.len(), 8);
        assert!(count_in(p, "ABC") >= 3 && count_in(p, DIGITS) >= 3);
        assert!(count_in(p, LOWERCASE) >= 1 && count_in(p, COGNITO_SYMBOLS) >= 1);
    }

    #[test]
    fn impossible_requests_are_refused() {
        let policy = PasswordPolicy::default();
        assert!(matches!(
            // 257 from the constraints, which cover lowercase and digits, + uppercase + symbol.
            generate_password(&policy, &options(20, &[("abc", 200), ("0123", 57)])),
            Err(CredentialError::TooLong { required: 259 })
        ));
        // Sums that would overflow a u32 are still seen as too long.
        assert!(matches!(
            generate_password(&policy, &options(20, &[("a", u32::MAX), ("b", u32::MAX)])),
            Err(CredentialError::TooLong { .. })
        ));
        let too_strict = PasswordPolicy {
            min_length: 300,
            ..PasswordPolicy::default()
        };
        assert!(matches!(
            generate_password(&too_strict, &options(0, &[])),
            Err(CredentialError::TooLong { required: 300 })
        ));
        assert!(matches!(
            generate_password(&policy, &options(20, &[("", 1)])),
            Err(CredentialError::InvalidConstraint { index: 0, .. })
        ));
        for bad in ["ab c", "abcé", "a\tb"] {
            assert!(matches!(
                generate_password(&policy, &options(20, &[("xyz", 1), (bad, 1)])),
                Err(CredentialError::InvalidConstraint { index: 1, .. })
            ));
        }
        // An empty set that asks for nothing is ignored.
        assert!(generate_password(&policy, &options(20, &[("", 0)])).is_ok());
    }

    #[test]
    fn a_failing_random_source_is_an_internal_error() {
        struct Broken;
        impl TryRngCore for Broken {
            type Error = std::io::Error;
            fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
                Err(std::io::Error::other("no entropy"))
            }
            fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
                Err(std::io::Error::other("no entropy"))
            }
            fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), Self::Error> {
                Err(std::io::Error::other("no entropy"))
            }
        }
        let err =
            generate_with(&mut Broken, &PasswordPolicy::default(), &options(0, &[])).unwrap_err();
        assert!(matches!(err, CredentialError::Random(_)));
        assert!(!err.is_invalid_argument());
    }

    #[test]
    fn uniform_below_redraws_the_biased_tail() {
        // A source that first yields values below 2^32 mod 3 (= 1), which must be rejected.
        struct Script(Vec<u32>);
        impl TryRngCore for Script {
            type Error = std::convert::Infallible;
            fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
                Ok(self.0.remove(0))
            }
            fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
                unreachable!()
            }
            fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), Self::Error> {
                unreachable!()
            }
        }
        let mut rng = Script(vec![0, 0, 5]);
        assert_eq!(uniform_below(&mut rng, 3).unwrap(), 2);
        assert!(rng.0.is_empty());
        // Powers of two never redraw.
        let mut rng = Script(vec![0, 7]);
        assert_eq!(uniform_below(&mut rng, 4).unwrap(), 0);
    }

    #[test]
    fn draws_are_roughly_uniform() {
        // 94 symbols, 94,000 draws: each count is ~1000 with sd ~31; 6 sd either side is generous.
        let alphabet = [UPPERCASE, LOWERCASE, DIGITS, COGNITO_SYMBOLS]
            .concat()
            .into_bytes();
        let mut counts = [0u32; 128];
        for _ in 0..94_000 {
            counts[pick(&mut OsRng, &alphabet).unwrap() as usize] += 1;
        }
        for c in &alphabet {
            let n = counts[*c as usize];
            assert!((800..1200).contains(&n), "{} drawn {n} times", *c as char);
        }
    }

    #[test]
    fn the_password_never_shows_in_debug() {
        let result = generate_password(&PasswordPolicy::default(), &options(32, &[]));
        let shown = format!("{result:?}");
        let secret = result.unwrap();
        assert!(!shown.contains(secret.expose()));
        assert!(shown.contains("redacted"));
    }
}
