//! Synthetic pools: every user is a pure function of `(seed, index)`, so a pool of millions of
//! users costs no memory per user.
//!
//! Two properties make every listing O(page):
//! - `sub`s increase strictly with the index (the top 48 bits of the UUID are
//!   `index * 2^48 / users` plus a jitter smaller than the spacing), so the users whose `sub`
//!   starts with any prefix form one contiguous index range, found by binary search. The
//!   connector's 16 `sub ^= "0".."f"` slices are 16 index ranges.
//! - Usernames encode their index (`first.last<i+1>`, `flast<i+1>`, `Provider_1<8 digits><i:012>`,
//!   or the `sub` itself for email-sign-in style users), so AdminGetUser is a parse plus one
//!   generation, not a lookup table.
//!
//! Group memberships are affine permutations of the user indices: member `k` of group `g` is
//! `(a_g * k + b_g) mod users` for `k < size_g`, and the inverse tells whether a user is in a
//! group in O(1).

use super::pool::UserRec;

const FIRST_NAMES: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Daniel",
    "Nancy",
    "Matthew",
    "Lisa",
    "Anthony",
    "Betty",
    "Mark",
    "Margaret",
    "Steven",
    "Sandra",
    "Paul",
    "Ashley",
    "Andrew",
    "Emily",
    "Joshua",
    "Donna",
    "Kenneth",
    "Michelle",
    "Kevin",
    "Carol",
    "Priya",
    "Wei",
    "Aisha",
    "Hiroshi",
    "Olga",
    "Mateo",
    "Fatima",
    "Liam",
    "Noah",
    "Sofia",
    "Chen",
    "Amara",
    "Ravi",
    "Ingrid",
    "Kwame",
    "Yuki",
    "José",
    "Zoë",
    "Søren",
    "Anaïs",
    "Łukasz",
    "Björn",
];

const LAST_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Patel",
    "Kim",
    "Chen",
    "Okafor",
    "Tanaka",
    "Ivanova",
    "Kowalski",
    "Singh",
    "O'Brien",
    "Müller",
    "García",
    "Nakamura",
    "Haddad",
    "Mensah",
    "Larsen",
    "Dubois",
];

const DEPARTMENTS: &[&str] = &[
    "Engineering",
    "Sales",
    "Marketing",
    "Finance",
    "Human Resources",
    "Support",
    "Legal",
    "Operations",
    "Product",
    "Design",
    "IT",
    "Research",
];

const EMAIL_DOMAINS: &[&str] = &[
    "example.com",
    "example.com",
    "example.com",
    "corp.example.com",
    "example.org",
];

/// Named groups as in the Python emulator's sample pool: spaces, `:`, `/`, quotes, non-ASCII.
const NAMED_GROUPS: &[(&str, &str)] = &[
    ("admins", "Administrators of the application"),
    ("engineering", "Engineering department"),
    ("sales", "Sales team"),
    ("support-tier-1", "First-line customer support"),
    ("support-tier-2", "Escalation support"),
    ("finance approvers", "Can approve invoices and refunds"),
    ("Marketing", "Marketing department"),
    ("hr:recruiting", "Recruiting team (HR)"),
    ("eu/contractors", "Contractors based in the EU"),
    ("beta-testers", "Early access to new features"),
    ("on-call: platform", "Platform on-call rotation"),
    ("read-only", "Read-only access to dashboards"),
    ("billing", "Billing administrators"),
    ("security", "Security team"),
    ("data-science", "Data science and analytics"),
    ("legal", "Legal department"),
    ("ops", "Operations"),
    ("design", "Product design"),
    ("product-managers", "Product management"),
    ("interns-2024", "2024 intern cohort"),
    ("Équipe Paris", "Paris office staff"),
    ("\"quoted\" team", "A group whose name has quotes"),
];

const PROJECT_WORDS: &[&str] = &[
    "apollo", "zephyr", "orion", "atlas", "hermes", "nova", "phoenix", "titan", "aurora", "comet",
    "delta", "falcon", "gemini", "helix", "ion", "juno",
];

const PROVIDERS: &[&str] = &["Google", "Google", "Facebook", "SignInWithApple"];

/// 2019-01-01T00:00:00Z: the earliest creation date.
const EPOCH_START: u64 = 1_546_300_800;
const EPOCH_SPAN_SECS: u64 = 6 * 365 * 86_400;
/// 2025-06-30T00:00:00Z: no modification date is later.
const LATEST: u64 = 1_751_241_600;

// Domain separation for the hash streams, so that e.g. the jitter of a `sub` and the choice of a
// first name never come from the same bits.
const TAG_USER: u64 = 0x7573_6572;
const TAG_SUB: u64 = 0x0073_7562;
const TAG_SUB_LOW: u64 = 0x0073_756c;
const TAG_GROUP: u64 = 0x6772_6f75;
const TAG_POOL: u64 = 0x706f_6f6c;
const TAG_SIGN_IN: u64 = 0x7369_676e;

/// 2025-01-01T00:00:00Z and 2026-01-01T00:00:00Z, in ms: every synthetic sign-in falls in
/// between (after every synthetic creation date, which are before 2025).
const SIGN_INS_FROM_MS: u64 = 1_735_689_600_000;
const SIGN_INS_UNTIL_MS: u64 = 1_767_225_600_000;
/// About one user in this many also has a failed sign-in after the successful one.
const FAILED_SIGN_IN_ONE_IN: u64 = 5;

/// SplitMix64's finaliser: a fast, well-mixed 64-bit hash.
pub fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A hash of two words.
pub fn mix(a: u64, b: u64) -> u64 {
    splitmix(a ^ splitmix(b))
}

/// A small deterministic random stream (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix(self.0)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Lower-case ASCII letters of a name: `Zoë` -> `zoe`, `O'Brien` -> `obrien`.
fn ascii_slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        let folded = match c {
            'é' | 'ë' | 'è' => 'e',
            'ø' | 'ö' | 'ó' => 'o',
            'ï' | 'í' => 'i',
            'ł' => 'l',
            'ü' => 'u',
            'á' | 'à' => 'a',
            'ç' => 'c',
            'ñ' => 'n',
            other => other,
        };
        if folded.is_ascii_alphanumeric() {
            out.push(folded);
        }
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_hex(out: &mut Vec<u8>, value: u64, digits: u32) {
    for shift in (0..digits).rev() {
        out.push(HEX[((value >> (shift * 4)) & 0xf) as usize]);
    }
}

/// How a user signs in, which decides the shape of the username.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    /// `first.last<i+1>`
    Dotted,
    /// `flast<i+1>`
    Initial,
    /// Email sign-in pools: the username is the `sub`.
    Opaque,
    /// `Google_1234...`: EXTERNAL_PROVIDER.
    Federated,
}

/// The generator of one synthetic pool's users.
#[derive(Clone, Debug)]
pub struct Synth {
    pub seed: u64,
    pub users: u64,
    /// `floor(2^48 / users)`: the spacing of consecutive `sub` prefixes.
    gap: u64,
}

impl Synth {
    /// The most users a synthetic pool may have (the `sub` spacing needs `users <= 2^48`; this is
    /// far below, and keeps every index in 12 decimal digits).
    pub const MAX_USERS: u64 = 1_000_000_000;

    pub fn new(seed: u64, users: u64) -> Self {
        let gap = (1u64 << 48).checked_div(users).unwrap_or(0);
        Self { seed, users, gap }
    }

    /// The `sub` of user `i`, as bytes of a lower-case version-4 UUID.
    pub fn sub(&self, i: u64) -> Vec<u8> {
        let base = ((u128::from(i) << 48) / u128::from(self.users.max(1))) as u64;
        let jitter = if self.gap > 1 {
            mix(self.seed ^ TAG_SUB, i) % self.gap
        } else {
            0
        };
        let top = base + jitter;
        let low = mix(self.seed ^ TAG_SUB_LOW, i);
        let tail = mix(self.seed ^ TAG_SUB_LOW, !i);
        let mut out = Vec::with_capacity(36);
        push_hex(&mut out, top >> 16, 8);
        out.push(b'-');
        push_hex(&mut out, top & 0xffff, 4);
        out.push(b'-');
        out.push(b'4');
        push_hex(&mut out, low & 0xfff, 3);
        out.push(b'-');
        push_hex(&mut out, 8 | ((low >> 12) & 3), 1);
        push_hex(&mut out, (low >> 14) & 0xfff, 3);
        out.push(b'-');
        push_hex(&mut out, tail & 0xffff_ffff_ffff, 12);
        out
    }

    fn sub_string(&self, i: u64) -> String {
        // Only hex digits and dashes: always valid UTF-8.
        String::from_utf8_lossy(&self.sub(i)).into_owned()
    }

    /// The first index in `lo..hi` for which `pred` is false (`pred` must be true then false).
    fn partition_point(&self, mut lo: u64, mut hi: u64, pred: impl Fn(u64) -> bool) -> u64 {
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if pred(mid) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// The index range of the users whose `sub` equals (`exact`) or starts with `value`. `sub`s
    /// are strictly increasing in the index, so this is two binary searches.
    pub fn sub_range(&self, value: &str, exact: bool) -> (u64, u64) {
        let v = value.as_bytes();
        let lo = self.partition_point(0, self.users, |i| self.sub(i).as_slice() < v);
        if exact {
            if lo < self.users && self.sub(lo) == v {
                return (lo, lo + 1);
            }
            return (lo, lo);
        }
        let hi = self.partition_point(lo, self.users, |i| self.sub(i).starts_with(v));
        (lo, hi)
    }

    /// The index of the user with this username or `sub`, if it is one of this pool's.
    pub fn find(&self, name: &str) -> Option<u64> {
        let i = self.parse_index(name)?;
        (i < self.users && self.username(i) == name).then_some(i)
    }

    fn parse_index(&self, name: &str) -> Option<u64> {
        if name.len() == 36 && name.as_bytes().get(8) == Some(&b'-') {
            let (lo, hi) = self.sub_range(name, true);
            return (lo < hi).then_some(lo);
        }
        if let Some((provider, ext)) = name.split_once('_') {
            if PROVIDERS.contains(&provider) && ext.len() == 21 {
                return ext.get(9..)?.parse().ok();
            }
            return None;
        }
        let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 || digits > 13 {
            return None;
        }
        name[name.len() - digits..]
            .parse::<u64>()
            .ok()?
            .checked_sub(1)
    }

    fn rng(&self, i: u64) -> Rng {
        Rng(mix(self.seed ^ TAG_USER, i))
    }

    fn style(&self, i: u64, rng: &mut Rng) -> Style {
        let draw = rng.unit();
        let federated = (self.users >= 10 && (i == 1 || i == self.users / 2))
            || mix(self.seed ^ TAG_USER, !i).is_multiple_of(500);
        if federated {
            Style::Federated
        } else if draw < 0.6 {
            Style::Dotted
        } else if draw < 0.85 {
            Style::Initial
        } else {
            Style::Opaque
        }
    }

    /// Just the username of user `i` (the same draws as [`Synth::user`]).
    pub fn username(&self, i: u64) -> String {
        let mut rng = self.rng(i);
        let style = self.style(i, &mut rng);
        let first = rng.pick(FIRST_NAMES);
        let last = rng.pick(LAST_NAMES);
        let provider = rng.pick(PROVIDERS);
        let ext = rng.below(100_000_000);
        self.username_for(i, style, first, last, provider, ext)
    }

    fn username_for(
        &self,
        i: u64,
        style: Style,
        first: &str,
        last: &str,
        provider: &str,
        ext: u64,
    ) -> String {
        match style {
            Style::Dotted => format!("{}.{}{}", ascii_slug(first), ascii_slug(last), i + 1),
            Style::Initial => {
                let f = ascii_slug(first);
                format!("{}{}{}", &f[..1.min(f.len())], ascii_slug(last), i + 1)
            }
            Style::Opaque => self.sub_string(i),
            Style::Federated => format!("{provider}_1{ext:08}{i:012}"),
        }
    }

    /// User `i`, complete: attributes, status, flags and dates.
    pub fn user(&self, i: u64) -> UserRec {
        let mut rng = self.rng(i);
        let style = self.style(i, &mut rng);
        let first = rng.pick(FIRST_NAMES);
        let last = rng.pick(LAST_NAMES);
        let provider = rng.pick(PROVIDERS);
        let ext = rng.below(100_000_000);
        let username = self.username_for(i, style, first, last, provider, ext);
        let (fslug, lslug) = (ascii_slug(first), ascii_slug(last));
        let domain = rng.pick(EMAIL_DOMAINS);
        let created = EPOCH_START + rng.below(EPOCH_SPAN_SECS);
        let modified = (created + rng.below(400 * 86_400)).min(LATEST);
        let sub = self.sub_string(i);
        let mut attrs: Vec<(String, String)> = Vec::with_capacity(12);
        attrs.push(("sub".into(), sub));
        let status_draw = rng.unit();
        let (status, email) = match style {
            Style::Federated => {
                let ext_id = &username[provider.len() + 1..];
                let identities = format!(
                    r#"[{{"userId":"{ext_id}","providerName":"{provider}","providerType":"{provider}","issuer":null,"primary":"true","dateCreated":"{}"}}]"#,
                    created * 1000
                );
                attrs.push(("identities".into(), identities));
                (
                    "EXTERNAL_PROVIDER",
                    format!("{fslug}.{lslug}{}@gmail.example.com", i + 1),
                )
            }
            _ => {
                let local = if style == Style::Opaque {
                    format!("{fslug}.{lslug}{}", i + 1)
                } else {
                    username.clone()
                };
                let status = if status_draw < 0.05 {
                    "UNCONFIRMED"
                } else if status_draw < 0.065 {
                    "RESET_REQUIRED"
                } else if status_draw < 0.08 {
                    "FORCE_CHANGE_PASSWORD"
                } else if status_draw < 0.082 {
                    "COMPROMISED"
                } else {
                    "CONFIRMED"
                };
                (status, format!("{local}@{domain}"))
            }
        };
        attrs.push(("email".into(), email));
        let verified = if status == "UNCONFIRMED" {
            "false"
        } else {
            "true"
        };
        attrs.push(("email_verified".into(), verified.into()));
        attrs.push(("given_name".into(), first.into()));
        attrs.push(("family_name".into(), last.into()));
        attrs.push(("name".into(), format!("{first} {last}")));
        if rng.unit() < 0.4 {
            attrs.push((
                "phone_number".into(),
                format!("+1555{:07}", rng.below(10_000_000)),
            ));
            let verified = if rng.unit() < 0.7 { "true" } else { "false" };
            attrs.push(("phone_number_verified".into(), verified.into()));
        }
        if rng.unit() < 0.2 {
            let preferred = match rng.below(3) {
                0 => fslug.clone(),
                1 => format!("{fslug}{}", &lslug[..1.min(lslug.len())]),
                _ => format!("{fslug}_{}", rng.below(100)),
            };
            attrs.push(("preferred_username".into(), preferred));
        }
        if rng.unit() < 0.7 {
            attrs.push(("custom:department".into(), rng.pick(DEPARTMENTS).into()));
        }
        if rng.unit() < 0.6 {
            attrs.push((
                "custom:employee_id".into(),
                format!("E{}", 100_000 + rng.below(900_000)),
            ));
        }
        let enabled = rng.unit() >= 0.05;
        UserRec {
            username,
            attrs,
            enabled,
            status: status.into(),
            created: created as f64,
            modified: modified as f64,
            password: None,
        }
    }
}

/// One event of a synthetic user's sign-in history (a `SignIn` with a password challenge).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignIn {
    /// A version-4 UUID, a pure function of (seed, user index, event).
    pub event_id: String,
    /// When, in epoch milliseconds.
    pub at_ms: u64,
    /// `Pass` (password `Success`) or `Fail` (password `Failure`).
    pub passed: bool,
}

impl Synth {
    /// User `i`'s sign-in history, newest first, made up on the fly from (seed, i): a `Pass`
    /// at a millisecond in 2025, then, for about one user in five, a `Fail` later in 2025.
    /// Nothing is stored, so every call answers the same.
    pub fn sign_ins(&self, i: u64) -> Vec<SignIn> {
        let mut rng = Rng(mix(self.seed ^ TAG_SIGN_IN, i));
        // The Pass leaves at least a minute of 2025 for the Fail.
        let pass = SIGN_INS_FROM_MS + rng.below(SIGN_INS_UNTIL_MS - SIGN_INS_FROM_MS - 60_000);
        let fail = pass + 1000 + rng.below(SIGN_INS_UNTIL_MS - pass - 1000);
        let failed = rng.below(FAILED_SIGN_IN_ONE_IN) == 0;
        let pass_id = uuid(rng.next(), rng.next());
        let fail_id = uuid(rng.next(), rng.next());
        let pass = SignIn {
            event_id: pass_id,
            at_ms: pass,
            passed: true,
        };
        if failed {
            let fail = SignIn {
                event_id: fail_id,
                at_ms: fail,
                passed: false,
            };
            vec![fail, pass]
        } else {
            vec![pass]
        }
    }
}

/// A lower-case version-4 UUID made of two 64-bit words.
pub fn uuid(hi: u64, lo: u64) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xfff,
        8 | (lo >> 62),
        (lo >> 48) & 0xfff,
        lo & 0xffff_ffff_ffff
    )
}

/// Which users are in a synthetic group: member `k` (k < size) is `(a * k + b) mod n`.
#[derive(Clone, Debug)]
pub struct Perm {
    pub size: u64,
    n: u64,
    a: u64,
    b: u64,
    a_inv: u64,
}

impl Perm {
    fn new(size: u64, n: u64, h: u64) -> Self {
        if n <= 1 {
            return Self {
                size: size.min(n),
                n,
                a: 1,
                b: 0,
                a_inv: 1,
            };
        }
        let mut k = 0;
        let a = loop {
            let a = 1 + mix(h, k) % (n - 1);
            if gcd(a, n) == 1 {
                break a;
            }
            k += 1;
        };
        Self {
            size,
            n,
            a,
            b: mix(h, u64::MAX) % n,
            a_inv: mod_inverse(a, n),
        }
    }

    /// The user index of member `k`.
    pub fn member(&self, k: u64) -> u64 {
        ((u128::from(self.a) * u128::from(k) + u128::from(self.b)) % u128::from(self.n)) as u64
    }

    /// Whether user `i` is one of the `size` members.
    pub fn contains(&self, i: u64) -> bool {
        if i >= self.n {
            return false;
        }
        let shifted =
            (u128::from(i) + u128::from(self.n) - u128::from(self.b)) % u128::from(self.n);
        let k = (shifted * u128::from(self.a_inv) % u128::from(self.n)) as u64;
        k < self.size
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn mod_inverse(a: u64, n: u64) -> u64 {
    let (mut t, mut new_t) = (0i128, 1i128);
    let (mut r, mut new_r) = (i128::from(n), i128::from(a));
    while new_r != 0 {
        let q = r / new_r;
        (t, new_t) = (new_t, t - q * new_t);
        (r, new_r) = (new_r, r - q * new_r);
    }
    t.rem_euclid(i128::from(n)) as u64
}

/// A synthetic group before it is put into a pool.
pub struct GroupPlan {
    pub name: String,
    pub description: String,
    pub precedence: Option<i64>,
    pub role_arn: Option<String>,
    pub created: f64,
    pub members: Perm,
}

/// The groups of a synthetic pool: `all-staff` (a quarter of all memberships), the named groups,
/// `project-<word>-<n>` groups (one member each from up to half of the remaining memberships,
/// the rest spread by a Zipf law), and `archived-project` (always empty) last. Total memberships are `round(users * per_user)` unless group caps (a group has at
/// most `users` members) make that impossible.
pub fn groups(seed: u64, users: u64, count: u64, per_user: f64, account: &str) -> Vec<GroupPlan> {
    let mut names: Vec<String> = Vec::with_capacity(count as usize);
    if count >= 1 {
        names.push("all-staff".into());
    }
    let middle = count.saturating_sub(2);
    for j in 0..middle as usize {
        match NAMED_GROUPS.get(j) {
            Some((name, _)) => names.push((*name).into()),
            None => {
                let k = j - NAMED_GROUPS.len();
                let word = PROJECT_WORDS[k % PROJECT_WORDS.len()];
                names.push(format!("project-{word}-{}", k + 1));
            }
        }
    }
    if count >= 2 {
        names.push("archived-project".into());
    }

    let total = (users as f64 * per_user).round().max(0.0) as u64;
    let mut sizes = vec![0u64; names.len()];
    if !names.is_empty() {
        let middle_ix: Vec<usize> = (1..names.len().saturating_sub(1)).collect();
        let big = if middle_ix.is_empty() {
            total
        } else {
            total.div_ceil(4)
        };
        sizes[0] = big.min(users);
        let mut rest = total - sizes[0];
        // Up to half of the remaining memberships give the middle groups one member each first,
        // so a many-groups / few-users pool is not mostly empty groups; the rest follows Zipf.
        let floors = if users == 0 {
            0
        } else {
            (middle_ix.len() as u64).min(rest / 2)
        };
        rest -= floors;
        let weights: Vec<f64> = (0..middle_ix.len())
            .map(|r| 1.0 / ((r + 1) as f64).powf(1.1))
            .collect();
        let spread = distribute(rest, &weights, users.saturating_sub(1));
        for (rank, (ix, size)) in middle_ix.iter().zip(spread).enumerate() {
            sizes[*ix] = size + u64::from((rank as u64) < floors);
        }
    }

    names
        .into_iter()
        .zip(sizes)
        .enumerate()
        .map(|(j, (name, size))| {
            let h = mix(seed ^ TAG_GROUP, j as u64);
            let mut rng = Rng(h);
            let (description, precedence) = if name == "all-staff" {
                ("Everyone in the company".to_string(), Some(100))
            } else if name == "archived-project" {
                ("Retired project; no members".to_string(), None)
            } else if let Some((_, d)) = NAMED_GROUPS.iter().find(|(n, _)| *n == name) {
                let prec = (rng.unit() < 0.5).then(|| rng.below(50) as i64);
                ((*d).to_string(), prec)
            } else {
                let word = name.split('-').nth(1).unwrap_or("x");
                let mut title = word.to_string();
                if let Some(first) = title.get_mut(..1) {
                    first.make_ascii_uppercase();
                }
                let prec = (rng.unit() < 0.5).then(|| rng.below(50) as i64);
                (format!("Project {title} team"), prec)
            };
            let role_arn = (rng.unit() < 0.3).then(|| {
                let slug = ascii_slug(&name);
                let slug = if slug.is_empty() {
                    "group".into()
                } else {
                    slug
                };
                format!("arn:aws:iam::{account}:role/cognito-{slug}")
            });
            let created = (EPOCH_START + rng.below(EPOCH_SPAN_SECS)) as f64;
            GroupPlan {
                name,
                description,
                precedence,
                role_arn,
                created,
                members: Perm::new(size, users, h),
            }
        })
        .collect()
}

/// Splits `total` in proportion to `weights`, no share above `cap`, overflow going to the others.
fn distribute(total: u64, weights: &[f64], cap: u64) -> Vec<u64> {
    let mut sizes = vec![0u64; weights.len()];
    let mut remaining = total;
    let mut active: Vec<usize> = (0..weights.len()).collect();
    while remaining > 0 && !active.is_empty() {
        let sum: f64 = active.iter().map(|&j| weights[j]).sum();
        let mut given = 0;
        for &j in &active {
            let share = ((remaining as f64) * weights[j] / sum).floor() as u64;
            let add = share.min(cap - sizes[j]);
            sizes[j] += add;
            given += add;
        }
        remaining -= given;
        active.retain(|&j| sizes[j] < cap);
        if given == 0 {
            // Less than one each: hand out the remainder by rank.
            for &j in &active {
                if remaining == 0 {
                    break;
                }
                sizes[j] += 1;
                remaining -= 1;
            }
            active.retain(|&j| sizes[j] < cap);
        }
    }
    sizes
}

/// A pool id like AWS's (`us-east-1_AbCdEfGhI`), derived from the pool's parameters.
pub fn pool_id(region: &str, seed: u64, users: u64, groups: u64, salt: u64) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = Rng(mix(mix(seed ^ TAG_POOL, users), mix(groups, salt)));
    let id: String = (0..9)
        .map(|_| CHARS[rng.below(CHARS.len() as u64) as usize] as char)
        .collect();
    format!("{region}_{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subs_increase_and_usernames_round_trip() {
        let s = Synth::new(7, 5000);
        let mut prev = Vec::new();
        for i in 0..5000 {
            let sub = s.sub(i);
            assert!(sub > prev);
            prev = sub;
            let u = s.user(i);
            assert_eq!(u.username, s.username(i));
            assert_eq!(s.find(&u.username), Some(i), "{}", u.username);
        }
    }

    #[test]
    fn sign_ins_are_deterministic_newest_first_and_in_2025() {
        let s = Synth::new(7, 100_000);
        let other_seed = Synth::new(8, 100_000);
        let mut failed = 0;
        let mut ids = std::collections::HashSet::new();
        for i in 0..10_000 {
            let events = s.sign_ins(i);
            assert_eq!(events, s.sign_ins(i));
            assert_ne!(events, other_seed.sign_ins(i));
            assert!(matches!(events.len(), 1 | 2));
            assert!(events.last().is_some_and(|e| e.passed));
            if let [fail, pass] = events.as_slice() {
                assert!(!fail.passed);
                assert!(fail.at_ms > pass.at_ms);
                failed += 1;
            }
            for e in &events {
                assert!((SIGN_INS_FROM_MS..SIGN_INS_UNTIL_MS).contains(&e.at_ms));
                assert_eq!(e.event_id.len(), 36);
                assert_eq!(e.event_id.as_bytes()[14], b'4');
                assert!(ids.insert(e.event_id.clone()));
            }
            // After the user's creation date.
            assert!(events[0].at_ms as f64 / 1000.0 > s.user(i).created);
        }
        // About one in five.
        assert!((1_700..2_300).contains(&failed), "{failed}");
    }

    #[test]
    fn permutations_are_bijective() {
        let p = Perm::new(300, 1000, 99);
        let members: std::collections::BTreeSet<u64> = (0..300).map(|k| p.member(k)).collect();
        assert_eq!(members.len(), 300);
        for i in 0..1000 {
            assert_eq!(p.contains(i), members.contains(&i));
        }
    }
}
