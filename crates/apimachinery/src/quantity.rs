//! Resource quantities (`resource.Quantity` upstream): parsing of decimal
//! and binary SI suffixes and exponents, the same rounding (values are kept
//! to nano precision, rounded away from zero, and capped at 2^63-1 when the
//! exact form would not fit), and upstream's canonical string form, so
//! objects round-trip through the API with the text clients expect.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// How a quantity is written back out; chosen by the suffix it was parsed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `12e6`
    DecimalExponent,
    /// `12Mi`
    BinarySI,
    /// `12M`
    DecimalSI,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    Format,
    #[error("unable to parse numeric part of quantity")]
    Numeric,
    #[error("unable to parse quantity's suffix")]
    Suffix,
}

/// A fixed-point number `mantissa × 10^exp` plus the format to print it in.
///
/// Equality, ordering and hashing are by numeric value only (`1000m == 1`).
#[derive(Debug, Clone)]
pub struct Quantity {
    /// Normalised: no trailing decimal zeros; zero is stored as `(0, 0)`.
    mantissa: i128,
    exp: i32,
    format: Format,
    /// The input text, kept when upstream keeps it (it already looks
    /// canonical), because upstream serialises that text back verbatim.
    original: Option<String>,
}

/// 2^63-1 expressed in nano units: the cap upstream applies on the exact path.
const MAX_NANOS: i128 = i64::MAX as i128 * 1_000_000_000;

impl Quantity {
    /// `value` in the given format (upstream `NewQuantity`).
    pub fn new(value: i64, format: Format) -> Self {
        Self::from_parts(value.into(), 0, format)
    }

    /// `milli / 1000` (upstream `NewMilliQuantity`).
    pub fn new_milli(milli: i64, format: Format) -> Self {
        Self::from_parts(milli.into(), -3, format)
    }

    /// `value × 10^scale`, printed with decimal SI suffixes.
    pub fn new_scaled(value: i64, scale: i32) -> Self {
        Self::from_parts(value.into(), scale, Format::DecimalSI)
    }

    fn from_parts(mantissa: i128, exp: i32, format: Format) -> Self {
        let (mantissa, exp) = normalize(mantissa, exp);
        Quantity {
            mantissa,
            exp,
            format,
            original: None,
        }
    }

    /// Parses `100m`, `1.5`, `128Mi`, `1e3`, `-2k`... as upstream's
    /// `ParseQuantity` does (surrounding whitespace is not accepted).
    pub fn parse(s: &str) -> Result<Quantity, QuantityError> {
        if s.is_empty() {
            return Err(QuantityError::Format);
        }
        if s == "0" {
            return Ok(Quantity {
                mantissa: 0,
                exp: 0,
                format: Format::DecimalSI,
                original: Some(s.to_string()),
            });
        }
        let parts = split(s)?;
        let (base_two, exponent, format) = interpret_suffix(parts.suffix)?;

        // Fast path: a small exact number, as upstream's int64 representation.
        let digits = parts.num.len() + parts.denom.len();
        let (mut scale, precision, multiplier) = if base_two {
            if exponent >= 0 && parts.denom.is_empty() {
                let precision = 15 - parts.num.len() as i32 - exponent * 3 / 10 - 1;
                (0, precision, 1i64.checked_shl(exponent as u32).unwrap_or(0))
            } else {
                (0, -1, 1)
            }
        } else {
            (exponent, 18 - digits as i32, 1)
        };
        if precision >= 0 {
            scale = scale.saturating_sub(parts.denom.len() as i32);
            if scale >= -9 {
                let shifted = format!("{}{}", parts.num, parts.denom);
                let value: i64 = shifted.parse().map_err(|_| QuantityError::Numeric)?;
                if let Some(result) = value.checked_mul(multiplier) {
                    let result = if parts.positive { result } else { -result };
                    let keep = if base_two {
                        exponent % 10 == 0 && value & 0x07 != 0
                    } else {
                        scale % 3 == 0 && !shifted.ends_with("000") && !shifted.starts_with('0')
                    };
                    let mut q = Self::from_parts(result.into(), scale, format);
                    if keep {
                        q.original = Some(s.to_string());
                    }
                    return Ok(q);
                }
            }
        }

        // Exact path: round up to whole nanos and cap, as upstream does.
        let all = format!("{}{}", parts.num, parts.denom);
        let significant = all.trim_start_matches('0');
        let (dec_shift, bin_shift) = if base_two {
            (0i64, exponent as u32)
        } else {
            (i64::from(exponent), 0)
        };
        let m = 9 - parts.denom.len() as i64 + dec_shift;
        let nanos = exact_nanos(significant, bin_shift, m).min(MAX_NANOS);
        let format = if format == Format::BinarySI && nanos > 0 && nanos < 1_000_000_000 {
            Format::DecimalSI
        } else {
            format
        };
        let signed = if parts.positive { nanos } else { -nanos };
        Ok(Self::from_parts(signed, -9, format))
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// -1, 0 or 1.
    pub fn sign(&self) -> i32 {
        self.mantissa.signum() as i32
    }

    /// The value in units of `10^scale`, rounded away from zero
    /// (saturating at the `i128` bounds).
    pub fn scaled_value(&self, scale: i32) -> i128 {
        let diff = i64::from(self.exp) - i64::from(scale);
        if diff >= 0 {
            let Some(p) = u32::try_from(diff).ok().and_then(|d| 10i128.checked_pow(d)) else {
                return saturate(self.mantissa);
            };
            self.mantissa
                .checked_mul(p)
                .unwrap_or_else(|| saturate(self.mantissa))
        } else {
            let Some(p) = u32::try_from(-diff)
                .ok()
                .and_then(|d| 10i128.checked_pow(d))
            else {
                return self.mantissa.signum();
            };
            let q = self.mantissa / p;
            if self.mantissa % p != 0 {
                q + self.mantissa.signum()
            } else {
                q
            }
        }
    }

    /// Whole units, rounded up (away from zero) like upstream `Value()`.
    pub fn value(&self) -> i128 {
        self.scaled_value(0)
    }

    /// Thousandths, rounded up (away from zero) like upstream `MilliValue()`.
    pub fn milli_value(&self) -> i128 {
        self.scaled_value(-3)
    }

    /// An approximation for ratios (HPA, scoring).
    pub fn as_f64(&self) -> f64 {
        self.mantissa as f64 * 10f64.powi(self.exp)
    }

    /// `self + other`, keeping this quantity's format (or the other's when
    /// this one is zero), like upstream `Add`. `None` on overflow.
    pub fn checked_add(&self, other: &Quantity) -> Option<Quantity> {
        let e = self.exp.min(other.exp);
        let a = self
            .mantissa
            .checked_mul(pow10(self.exp.checked_sub(e)?)?)?;
        let b = other
            .mantissa
            .checked_mul(pow10(other.exp.checked_sub(e)?)?)?;
        let format = if self.is_zero() {
            other.format
        } else {
            self.format
        };
        Some(Self::from_parts(a.checked_add(b)?, e, format))
    }

    /// `self - other`; see [`Quantity::checked_add`].
    pub fn checked_sub(&self, other: &Quantity) -> Option<Quantity> {
        self.checked_add(&other.negated())
    }

    pub fn negated(&self) -> Quantity {
        Self::from_parts(-self.mantissa, self.exp, self.format)
    }

    /// Upstream's canonical text (`1000m` → `1`, `1024Mi` → `1Gi`,
    /// `0.5` → `500m`), ignoring any preserved input text.
    pub fn canonical(&self) -> String {
        if self.mantissa == 0 {
            return "0".to_string();
        }
        if self.format == Format::BinarySI {
            if let Some(s) = self.binary_canonical() {
                return s;
            }
        }
        // Decimal: lower the exponent to a multiple of three.
        let r = self.exp.rem_euclid(3);
        let exp = self.exp - r;
        let mut number = self.mantissa.to_string();
        number.extend(std::iter::repeat_n('0', r as usize));
        let suffix = match (self.format, exp) {
            (Format::DecimalExponent, 0) => String::new(),
            (Format::DecimalExponent, e) => format!("e{e}"),
            (_, e) => match decimal_suffix(e) {
                Some(s) => s.to_string(),
                // Beyond the SI table upstream prints no suffix at all,
                // silently changing the value; an exponent keeps it exact.
                None => format!("e{e}"),
            },
        };
        number + &suffix
    }

    /// `None` when the value must be shown in decimal instead: it is below
    /// 1024 in magnitude or not a whole number.
    fn binary_canonical(&self) -> Option<String> {
        if self.exp < 0 {
            return None;
        }
        let v = self.mantissa.checked_mul(pow10(self.exp)?)?;
        if v.unsigned_abs() < 1024 {
            return None;
        }
        let mut amount = v.unsigned_abs();
        let mut times = 0;
        while times < 6 && amount >= 1024 && amount % 1024 == 0 {
            amount /= 1024;
            times += 1;
        }
        let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][times];
        let sign = if v < 0 { "-" } else { "" };
        Some(format!("{sign}{amount}{suffix}"))
    }
}

impl Default for Quantity {
    fn default() -> Self {
        Quantity::new(0, Format::DecimalSI)
    }
}

impl fmt::Display for Quantity {
    /// Upstream `String()`: the input text when it was kept, else canonical.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.original {
            Some(s) => f.write_str(s),
            None => f.write_str(&self.canonical()),
        }
    }
}

impl std::str::FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.mantissa == other.mantissa && self.exp == other.exp
    }
}

impl Eq for Quantity {}

impl Hash for Quantity {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.mantissa.hash(state);
        self.exp.hash(state);
    }
}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        let (sa, sb) = (self.mantissa.signum(), other.mantissa.signum());
        if sa != sb || sa == 0 {
            return sa.cmp(&sb);
        }
        let mag = cmp_magnitude(
            self.mantissa.unsigned_abs(),
            self.exp,
            other.mantissa.unsigned_abs(),
            other.exp,
        );
        if sa < 0 {
            mag.reverse()
        } else {
            mag
        }
    }
}

impl serde::Serialize for Quantity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Quantity {
    /// Accepts a string or a JSON number, as upstream's `UnmarshalJSON`.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a quantity string or number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Quantity, E> {
                Quantity::parse(v.trim()).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Quantity, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Quantity, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Quantity, E> {
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(V)
    }
}

fn normalize(mut m: i128, mut e: i32) -> (i128, i32) {
    if m == 0 {
        return (0, 0);
    }
    while m % 10 == 0 {
        m /= 10;
        e = e.saturating_add(1);
    }
    (m, e)
}

fn pow10(e: i32) -> Option<i128> {
    10i128.checked_pow(u32::try_from(e).ok()?)
}

fn saturate(m: i128) -> i128 {
    if m < 0 {
        i128::MIN
    } else {
        i128::MAX
    }
}

fn digit_count(v: u128) -> i64 {
    v.checked_ilog10().map_or(1, |d| i64::from(d) + 1)
}

/// Compares `a × 10^ea` with `b × 10^eb` (both non-zero) without overflow.
fn cmp_magnitude(a: u128, ea: i32, b: u128, eb: i32) -> Ordering {
    let (ma, mb) = (
        digit_count(a) + i64::from(ea),
        digit_count(b) + i64::from(eb),
    );
    if ma != mb {
        return ma.cmp(&mb);
    }
    // Same order of magnitude, so the exponents differ by at most 38.
    match ea.cmp(&eb) {
        Ordering::Equal => a.cmp(&b),
        Ordering::Greater => match 10u128
            .checked_pow((ea - eb) as u32)
            .and_then(|p| a.checked_mul(p))
        {
            Some(a) => a.cmp(&b),
            None => Ordering::Greater,
        },
        Ordering::Less => match 10u128
            .checked_pow((eb - ea) as u32)
            .and_then(|p| b.checked_mul(p))
        {
            Some(b) => a.cmp(&b),
            None => Ordering::Less,
        },
    }
}

struct Parts<'a> {
    positive: bool,
    /// Integer digits without leading zeros ("0" when there are none).
    num: &'a str,
    denom: &'a str,
    suffix: &'a str,
}

/// Splits `[+-]digits[.digits][suffix]` the way upstream's
/// `parseQuantityString` does, quirks included (`1.` and `.5` are numbers).
fn split<'a>(s: &'a str) -> Result<Parts<'a>, QuantityError> {
    let b = s.as_bytes();
    let end = b.len();
    let mut pos = 0;
    let mut positive = true;
    match b.first() {
        Some(b'-') => {
            positive = false;
            pos += 1;
        }
        Some(b'+') => pos += 1,
        _ => {}
    }
    while pos < end && b[pos] == b'0' {
        pos += 1;
    }
    let done = |num: &'a str, denom: &'a str| -> Result<Parts<'a>, QuantityError> {
        Ok(Parts {
            positive,
            num,
            denom,
            suffix: "",
        })
    };
    if pos >= end {
        return done("0", "");
    }
    let start = pos;
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    let mut num = &s[start..pos];
    if pos >= end {
        return done(num, "");
    }
    if num.is_empty() {
        num = "0";
    }
    let mut denom = "";
    if b[pos] == b'.' {
        pos += 1;
        let ds = pos;
        while pos < end && b[pos].is_ascii_digit() {
            pos += 1;
        }
        denom = &s[ds..pos];
        if pos >= end {
            return done(num, denom);
        }
    }
    let suffix_start = pos;
    while pos < end && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos < end && matches!(b[pos], b'-' | b'+') {
        pos += 1;
    }
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < end {
        return Err(QuantityError::Format);
    }
    Ok(Parts {
        positive,
        num,
        denom,
        suffix: &s[suffix_start..],
    })
}

/// Returns (is binary, exponent, format).
fn interpret_suffix(s: &str) -> Result<(bool, i32, Format), QuantityError> {
    if let Some(e) = decimal_exponent(s) {
        return Ok((false, e, Format::DecimalSI));
    }
    let bin = match s {
        "Ki" => 10,
        "Mi" => 20,
        "Gi" => 30,
        "Ti" => 40,
        "Pi" => 50,
        "Ei" => 60,
        _ => 0,
    };
    if bin != 0 {
        return Ok((true, bin, Format::BinarySI));
    }
    if s.len() > 1 && (s.starts_with('e') || s.starts_with('E')) {
        if let Ok(e) = s[1..].parse::<i32>() {
            return Ok((false, e, Format::DecimalExponent));
        }
    }
    Err(QuantityError::Suffix)
}

fn decimal_exponent(s: &str) -> Option<i32> {
    Some(match s {
        "n" => -9,
        "u" => -6,
        "m" => -3,
        "" => 0,
        "k" => 3,
        "M" => 6,
        "G" => 9,
        "T" => 12,
        "P" => 15,
        "E" => 18,
        _ => return None,
    })
}

fn decimal_suffix(e: i32) -> Option<&'static str> {
    Some(match e {
        -9 => "n",
        -6 => "u",
        -3 => "m",
        0 => "",
        3 => "k",
        6 => "M",
        9 => "G",
        12 => "T",
        15 => "P",
        18 => "E",
        _ => return None,
    })
}

/// `ceil(digits × 2^bin × 10^m)` for a non-negative decimal digit string
/// without leading zeros, saturating at [`MAX_NANOS`]. Works on the digit
/// text so arbitrarily long inputs and exponents are handled exactly.
fn exact_nanos(digits: &str, bin: u32, m: i64) -> i128 {
    if digits.is_empty() {
        return 0;
    }
    let d = digits.len() as i64;
    let times_bin = |v: i128| v.checked_mul(1i128 << bin).unwrap_or(MAX_NANOS);
    if m >= 0 {
        // At least 10^(d-1+m); 10^28 is already above the cap.
        if d - 1 + m >= 28 {
            return MAX_NANOS;
        }
        let v = digits.parse::<i128>().ok().zip(pow10(m as i32));
        return match v.and_then(|(v, p)| v.checked_mul(p)) {
            Some(v) => times_bin(v).min(MAX_NANOS),
            None => MAX_NANOS,
        };
    }
    // The last n digits are below one nano; `pad` zeros precede them when
    // the number is shorter than that.
    let n = -m;
    let (int_digits, frac_digits, pad) = if n >= d {
        ("", digits, (n - d) as u64)
    } else {
        let (a, b) = digits.split_at((d - n) as usize);
        (a, b, 0)
    };
    let int_part = if int_digits.is_empty() {
        0
    } else if int_digits.len() > 28 {
        return MAX_NANOS;
    } else {
        match int_digits.parse::<i128>() {
            Ok(v) => times_bin(v),
            Err(_) => return MAX_NANOS,
        }
    };
    let frac_up = if !frac_digits.bytes().any(|c| c != b'0') {
        0
    } else if bin == 0 || pad >= 19 {
        // Below one nano even after multiplying by at most 2^60.
        1
    } else {
        // Multiply the fraction by 2^bin by repeated doubling, collecting
        // the carries into whole nanos; any remainder rounds up.
        let mut frac: Vec<u8> = std::iter::repeat_n(0u8, pad as usize)
            .chain(frac_digits.bytes().map(|c| c - b'0'))
            .collect();
        let mut whole: i128 = 0;
        for _ in 0..bin {
            let mut carry = 0;
            for digit in frac.iter_mut().rev() {
                let v = *digit * 2 + carry;
                *digit = v % 10;
                carry = v / 10;
            }
            whole = whole * 2 + i128::from(carry);
        }
        whole + i128::from(frac.iter().any(|&x| x != 0))
    };
    int_part.saturating_add(frac_up).min(MAX_NANOS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    fn canon(s: &str) -> String {
        q(s).to_string()
    }

    #[test]
    fn canonical_forms() {
        for (input, want) in [
            ("0", "0"),
            ("100m", "100m"),
            ("1000m", "1"),
            ("1", "1"),
            ("1.5", "1500m"),
            ("0.5", "500m"),
            (".5", "500m"),
            ("0.1", "100m"),
            ("1000", "1k"),
            ("1k", "1k"),
            ("1M", "1M"),
            ("1e3", "1e3"),
            ("1.5e3", "1500"),
            ("1e-3", "1e-3"),
            ("1E6", "1E6"),
            ("1.0E6", "1e6"),
            ("128Mi", "128Mi"),
            ("1024Mi", "1Gi"),
            ("1Gi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("0.5Ki", "512"),
            ("1Ki", "1Ki"),
            ("1000Ki", "1000Ki"),
            ("-1.5", "-1500m"),
            ("-100m", "-100m"),
            ("1.1n", "2n"),
            ("0.0000000001", "1n"),
            ("5Ei", "5Ei"),
            ("10Ei", "9223372036854775807"),
            ("12345678901234567890", "9223372036854775807"),
            ("100u", "100u"),
            ("1000u", "1m"),
            ("0.0", "0"),
            ("-0", "0"),
        ] {
            assert_eq!(canon(input), want, "input {input}");
        }
    }

    #[test]
    fn keeps_input_text_like_upstream() {
        assert_eq!(canon("+1"), "+1");
        assert_eq!(q("+1").canonical(), "1");
        assert_eq!(canon("3Ki"), "3Ki");
        assert_eq!(canon("8Ki"), "8Ki");
    }

    #[test]
    fn values_round_up() {
        assert_eq!(q("100m").value(), 1);
        assert_eq!(q("100m").milli_value(), 100);
        assert_eq!(q("1.5").value(), 2);
        assert_eq!(q("-1.5").value(), -2);
        assert_eq!(q("1Gi").value(), 1 << 30);
        assert_eq!(q("1e3").value(), 1000);
        assert_eq!(q("1n").milli_value(), 1);
        assert_eq!(q("2").milli_value(), 2000);
        assert_eq!(q("1e30").value(), 10i128.pow(30));
        assert_eq!(q("1e40").value(), i128::MAX);
        assert_eq!(q("0.5Ki").value(), 512);
        assert_eq!(q("1").scaled_value(-9), 1_000_000_000);
    }

    #[test]
    fn comparison_is_numeric() {
        assert!(q("1Gi") > q("1G"));
        assert_eq!(q("1000m"), q("1"));
        assert!(q("0.5") < q("1"));
        assert!(q("-1") < q("0"));
        assert!(q("-2") < q("-1"));
        assert!(q("1e40") > q("9E"));
        assert!(q("1n") > q("0"));
        assert_eq!(q("1k").cmp(&q("1000")), Ordering::Equal);
    }

    #[test]
    fn formats() {
        assert_eq!(q("1Mi").format(), Format::BinarySI);
        assert_eq!(q("1M").format(), Format::DecimalSI);
        assert_eq!(q("1e6").format(), Format::DecimalExponent);
        // Binary quantities below one are shown in decimal.
        assert_eq!(q("0.0001Ki").format(), Format::DecimalSI);
    }

    #[test]
    fn errors() {
        assert_eq!(Quantity::parse(""), Err(QuantityError::Format));
        assert_eq!(Quantity::parse("abc"), Err(QuantityError::Format));
        assert_eq!(Quantity::parse("1Zi"), Err(QuantityError::Format));
        assert_eq!(Quantity::parse("1.5.5"), Err(QuantityError::Format));
        assert_eq!(Quantity::parse(" 1"), Err(QuantityError::Format));
        assert_eq!(Quantity::parse("1e"), Err(QuantityError::Suffix));
        assert_eq!(Quantity::parse("1Mi5"), Err(QuantityError::Suffix));
        assert_eq!(Quantity::parse("1ki"), Err(QuantityError::Suffix));
    }

    #[test]
    fn arithmetic() {
        let a = q("1500m").checked_add(&q("1")).unwrap();
        assert_eq!(a.to_string(), "2500m");
        let b = Quantity::default().checked_add(&q("1Gi")).unwrap();
        assert_eq!(b.to_string(), "1Gi");
        assert_eq!(q("1").checked_sub(&q("1")).unwrap().to_string(), "0");
        assert_eq!(
            Quantity::new_milli(250, Format::DecimalSI).to_string(),
            "250m"
        );
        assert_eq!(Quantity::new(2048, Format::BinarySI).to_string(), "2Ki");
    }

    #[test]
    fn binary_fractions_are_exact() {
        // 1/3 of a Ki is not a whole number of nanos: rounded up.
        // 0.333333333333 × 1024 = 341.333333332992: rounded up to the nano.
        assert_eq!(q("0.333333333333Ki").scaled_value(-9), 341_333_333_333);
        assert_eq!(q("0.000000000000001Ki").scaled_value(-9), 1);
        assert_eq!(q("0.00000000000000000000000001Ki").canonical(), "1n");
        assert_eq!(q("1e-1000000").canonical(), "1e-9");
        assert_eq!(q("1e1000000").value(), i128::MAX);
        assert_eq!(q("1.5e-2147483648").canonical(), "1e-9");
        assert!(q("1e2147483647").checked_add(&q("1e-2147483648")).is_none());
    }

    #[test]
    fn serde_round_trip() {
        let v: Quantity = serde_json::from_str("\"1.5Gi\"").unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"1536Mi\"");
        let n: Quantity = serde_json::from_str("2").unwrap();
        assert_eq!(n.to_string(), "2");
    }
}
