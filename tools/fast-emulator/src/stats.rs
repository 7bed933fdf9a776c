//! Call counters, the request log and fault rules: the Python emulator's `Stats`, same semantics.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde_json::{Map, Value, json};

use super::control::{ApiError, bad, check_keys, opt_str, py_list};

/// The request log keeps the last this many AWS requests.
const REQUEST_LOG_MAX: usize = 20_000;

pub const FAULT_KINDS: &[&str] = &[
    "throttle",
    "internal",
    "unavailable",
    "delay",
    "reset",
    "not_authorized",
    "access_denied",
    "error",
];

#[derive(Clone, Debug)]
pub struct FaultRule {
    pub operation: String,
    pub kind: String,
    pub count: i64,
    pub skip: u64,
    pub delay_ms: Option<f64>,
    pub pool_id: Option<String>,
    pub message: Option<String>,
    pub status: Option<u16>,
    pub error_type: Option<String>,
}

impl FaultRule {
    /// Validates one rule exactly as `cognito_emulator.py` does.
    pub fn parse(raw: &Value, idx: usize) -> Result<Self, ApiError> {
        let what = format!("rules[{idx}]");
        let obj = check_keys(
            raw,
            &[
                "operation",
                "kind",
                "count",
                "delay_ms",
                "skip",
                "pool_id",
                "message",
                "status",
                "error_type",
            ],
            &what,
        )?;
        let operation = match obj.get("operation") {
            None => "*".to_string(),
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(_) => {
                return Err(bad(format!(
                    "{what}: 'operation' must be an operation name or '*'"
                )));
            }
        };
        let kind = match obj.get("kind").and_then(Value::as_str) {
            Some(k) if FAULT_KINDS.contains(&k) => k.to_string(),
            _ => {
                return Err(bad(format!(
                    "{what}: 'kind' must be one of {}",
                    py_list(FAULT_KINDS)
                )));
            }
        };
        let count = match obj.get("count") {
            None => 1,
            Some(v) => match v.as_i64() {
                Some(c) if c >= 1 || c == -1 => c,
                _ => {
                    return Err(bad(format!(
                        "{what}: 'count' must be a positive integer (or -1 for unlimited)"
                    )));
                }
            },
        };
        let skip = match obj.get("skip") {
            None => 0,
            Some(v) => v
                .as_u64()
                .ok_or_else(|| bad(format!("{what}: 'skip' must be a non-negative integer")))?,
        };
        let delay_ms = match (kind.as_str(), obj.get("delay_ms")) {
            ("delay", Some(v)) => match v.as_f64() {
                Some(d) if d >= 0.0 && !v.is_boolean() => Some(d),
                _ => {
                    return Err(bad(format!(
                        "{what}: kind 'delay' needs a non-negative 'delay_ms'"
                    )));
                }
            },
            ("delay", None) => {
                return Err(bad(format!(
                    "{what}: kind 'delay' needs a non-negative 'delay_ms'"
                )));
            }
            (_, Some(Value::Null) | None) => None,
            (_, Some(_)) => {
                return Err(bad(format!(
                    "{what}: 'delay_ms' only applies to kind 'delay'"
                )));
            }
        };
        let pool_id = opt_str(obj, "pool_id", &what)?;
        let message = opt_str(obj, "message", &what)?;
        let raw_status = obj.get("status").filter(|v| !v.is_null());
        let raw_type = obj.get("error_type").filter(|v| !v.is_null());
        let (status, error_type) = if kind == "error" {
            let error_type = match raw_type.and_then(Value::as_str) {
                Some(t) if !t.is_empty() => t.to_string(),
                _ => {
                    return Err(bad(format!(
                        "{what}: kind 'error' needs 'error_type' (e.g. 'ResourceNotFoundException')"
                    )));
                }
            };
            let status = match raw_status {
                None => 400,
                Some(v) => match v.as_u64() {
                    Some(s) if (400..=599).contains(&s) => s as u16,
                    _ => {
                        return Err(bad(format!(
                            "{what}: 'status' must be an HTTP error status (400..599)"
                        )));
                    }
                },
            };
            (Some(status), Some(error_type))
        } else if raw_status.is_some() || raw_type.is_some() {
            return Err(bad(format!(
                "{what}: 'status'/'error_type' only apply to kind 'error'"
            )));
        } else {
            (None, None)
        };
        Ok(Self {
            operation,
            kind,
            count,
            skip,
            delay_ms,
            pool_id,
            message,
            status,
            error_type,
        })
    }

    pub fn to_json(&self) -> Value {
        let mut out = json!({"operation": self.operation, "kind": self.kind, "count": self.count});
        if let Some(d) = self.delay_ms {
            // 300, not 300.0, as Python echoes an integer.
            out["delay_ms"] = if d.fract() == 0.0 && d.abs() < 1e15 {
                json!(d as i64)
            } else {
                json!(d)
            };
        }
        for (key, value) in [
            ("pool_id", &self.pool_id),
            ("message", &self.message),
            ("error_type", &self.error_type),
        ] {
            if let Some(v) = value {
                out[key] = json!(v);
            }
        }
        if let Some(s) = self.status {
            out["status"] = json!(s);
        }
        if self.skip > 0 {
            out["skip"] = json!(self.skip);
        }
        out
    }
}

/// One AWS request, for `GET /_emulator/requests`.
#[derive(Clone, Debug, Default)]
pub struct LogEntry {
    pub t: f64,
    pub operation: String,
    pub region: Option<String>,
    pub pool_id: Option<String>,
    pub limit: Option<Value>,
    pub filter: Option<Value>,
    pub group: Option<Value>,
    pub username: Option<Value>,
    pub token: bool,
    pub fault: Option<String>,
    pub throttled: bool,
    pub status: u16,
    pub ms: f64,
}

impl LogEntry {
    fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("t".into(), json!(self.t));
        out.insert("operation".into(), json!(self.operation));
        if let Some(r) = &self.region {
            out.insert("region".into(), json!(r));
        }
        if let Some(p) = &self.pool_id {
            out.insert("pool_id".into(), json!(p));
        }
        for (key, value) in [
            ("limit", &self.limit),
            ("filter", &self.filter),
            ("group", &self.group),
            ("username", &self.username),
        ] {
            if let Some(v) = value {
                out.insert(key.into(), v.clone());
            }
        }
        if self.token {
            out.insert("token".into(), json!(true));
        }
        if let Some(f) = &self.fault {
            out.insert("fault".into(), json!(f));
        }
        if self.throttled {
            out.insert("throttled".into(), json!(true));
        }
        if self.status != 0 {
            // A dropped connection (`reset`) has no status, as in the Python emulator's log.
            out.insert("status".into(), json!(self.status));
        }
        out.insert("ms".into(), json!((self.ms * 100.0).round() / 100.0));
        Value::Object(out)
    }
}

#[derive(Default)]
pub struct Stats {
    pub faults: Vec<FaultRule>,
    calls: HashMap<String, u64>,
    calls_by_pool: HashMap<String, HashMap<String, u64>>,
    throttled: HashMap<String, u64>,
    log: VecDeque<LogEntry>,
    pub total: u64,
    pub in_flight: u64,
    pub max_in_flight: u64,
}

fn bump(map: &mut HashMap<String, u64>, key: &str) {
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            map.insert(key.to_string(), 1);
        }
    }
}

fn sorted(map: &HashMap<String, u64>) -> Value {
    let ordered: BTreeMap<&String, &u64> = map.iter().collect();
    json!(ordered)
}

impl Stats {
    /// Zeroes the counters and the request log; requests in flight stay counted.
    pub fn reset_calls(&mut self) {
        self.calls.clear();
        self.calls_by_pool.clear();
        self.throttled.clear();
        self.log.clear();
        self.total = 0;
        self.max_in_flight = self.in_flight;
    }

    /// Counts a call, enters it in flight, then takes one count from the first matching rule.
    pub fn begin(&mut self, op: &str, pool_id: Option<&str>) -> Option<FaultRule> {
        bump(&mut self.calls, op);
        if let Some(pool) = pool_id {
            match self.calls_by_pool.get_mut(pool) {
                Some(per) => bump(per, op),
                None => {
                    let mut per = HashMap::new();
                    per.insert(op.to_string(), 1);
                    self.calls_by_pool.insert(pool.to_string(), per);
                }
            }
        }
        self.total += 1;
        self.in_flight += 1;
        self.max_in_flight = self.max_in_flight.max(self.in_flight);
        let mut hit = None;
        for (i, rule) in self.faults.iter_mut().enumerate() {
            if rule.operation != "*" && rule.operation != op {
                continue;
            }
            if rule.pool_id.as_deref().is_some_and(|p| Some(p) != pool_id) {
                continue;
            }
            if rule.skip > 0 {
                rule.skip -= 1;
                continue;
            }
            if rule.count != -1 {
                rule.count -= 1;
            }
            hit = Some((i, rule.clone()));
            break;
        }
        let (i, rule) = hit?;
        if rule.count == 0 {
            self.faults.remove(i);
        }
        Some(rule)
    }

    pub fn throttled(&mut self, op: &str) {
        bump(&mut self.throttled, op);
    }

    pub fn end(&mut self, entry: LogEntry) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.log.len() == REQUEST_LOG_MAX {
            self.log.pop_front();
        }
        self.log.push_back(entry);
    }

    pub fn calls_json(&self, pool: Option<&str>) -> Value {
        match pool {
            Some(p) => self.calls_by_pool.get(p).map_or_else(|| json!({}), sorted),
            None => sorted(&self.calls),
        }
    }

    pub fn stats_json(&self) -> Value {
        json!({
            "calls": sorted(&self.calls),
            "total": self.total,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "faults_remaining": self.faults.len(),
            "throttled": self.throttled.values().sum::<u64>(),
            "throttled_by_operation": sorted(&self.throttled),
        })
    }

    pub fn requests_json(&self, operation: Option<&str>) -> Value {
        let entries: Vec<Value> = self
            .log
            .iter()
            .filter(|e| operation.is_none_or(|op| e.operation == op))
            .map(LogEntry::to_json)
            .collect();
        json!({ "requests": entries })
    }

    pub fn clear_log(&mut self) {
        self.log.clear();
    }
}
