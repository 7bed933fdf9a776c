//! What DescribeUserPool says about a pool beyond its id and counts: moto's default pool
//! configuration (password policy, messages) and schema, overlaid with a seed's `config`.

use serde_json::{Map, Value, json};

/// A standard attribute: name, data type, mutable, required, string length limits.
type Standard = (
    &'static str,
    &'static str,
    bool,
    bool,
    Option<(&'static str, &'static str)>,
);

/// moto 5.2's standard schema attributes, in its order.
const STANDARD: &[Standard] = &[
    ("sub", "String", false, true, Some(("1", "2048"))),
    ("name", "String", true, false, Some(("0", "2048"))),
    ("given_name", "String", true, false, Some(("0", "2048"))),
    ("family_name", "String", true, false, Some(("0", "2048"))),
    ("middle_name", "String", true, false, Some(("0", "2048"))),
    ("nickname", "String", true, false, Some(("0", "2048"))),
    (
        "preferred_username",
        "String",
        true,
        false,
        Some(("0", "2048")),
    ),
    ("profile", "String", true, false, Some(("0", "2048"))),
    ("picture", "String", true, false, Some(("0", "2048"))),
    ("website", "String", true, false, Some(("0", "2048"))),
    ("email", "String", true, false, Some(("0", "2048"))),
    ("email_verified", "Boolean", true, false, None),
    ("gender", "String", true, false, Some(("0", "2048"))),
    ("birthdate", "String", true, false, Some(("10", "10"))),
    ("zoneinfo", "String", true, false, Some(("0", "2048"))),
    ("locale", "String", true, false, Some(("0", "2048"))),
    ("phone_number", "String", true, false, Some(("0", "2048"))),
    ("phone_number_verified", "Boolean", true, false, None),
    ("address", "String", true, false, Some(("0", "2048"))),
    ("updated_at", "Number", true, false, None),
];

fn standard_attribute(name: &str) -> Option<Value> {
    let (name, kind, mutable, required, strings) =
        STANDARD.iter().find(|(n, ..)| *n == name).copied()?;
    let mut attr = json!({
        "Name": name,
        "AttributeDataType": kind,
        "DeveloperOnlyAttribute": false,
        "Mutable": mutable,
        "Required": required,
    });
    if let Some((min, max)) = strings {
        attr["StringAttributeConstraints"] = json!({"MinLength": min, "MaxLength": max});
    }
    if kind == "Number" {
        attr["NumberAttributeConstraints"] = json!({"MinValue": "0"});
    }
    Some(attr)
}

/// A declared `custom:` attribute, as the Python emulator declares them (String, mutable).
pub fn custom_attribute(name: &str) -> Value {
    json!({
        "Name": name,
        "AttributeDataType": "String",
        "DeveloperOnlyAttribute": false,
        "Mutable": true,
        "Required": false,
        "StringAttributeConstraints": {},
    })
}

fn defaults() -> Map<String, Value> {
    let value = json!({
        "Policies": {"PasswordPolicy": {
            "MinimumLength": 8, "RequireUppercase": true, "RequireLowercase": true,
            "RequireNumbers": true, "RequireSymbols": true, "TemporaryPasswordValidityDays": 7,
        }},
        "AdminCreateUserConfig": {
            "AllowAdminCreateUserOnly": false,
            "UnusedAccountValidityDays": 7,
            "InviteMessageTemplate": {
                "SMSMessage": "Your username is {username} and temporary password is {####}. ",
                "EmailMessage": "Your username is {username} and temporary password is {####}. ",
                "EmailSubject": "Your temporary password",
            },
        },
        "EmailConfiguration": {"EmailSendingAccount": "COGNITO_DEFAULT"},
        "VerificationMessageTemplate": {
            "SmsMessage": "Your verification code is {####}. ",
            "EmailMessage": "Your verification code is {####}. ",
            "EmailSubject": "Your verification code",
            "DefaultEmailOption": "CONFIRM_WITH_CODE",
        },
        // The feature plan, CreateUserPool's default (as the Python emulator adds it to moto's
        // defaults). A config's own tier replaces it in place.
        "UserPoolTier": super::auth_events::DEFAULT_TIER,
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// moto's `update_extended_config` plus its schema handling: returns the pool's extra
/// DescribeUserPool fields and its schema attributes.
pub fn extended_config(mut config: Map<String, Value>) -> (Map<String, Value>, Vec<Value>) {
    let schema_spec = config.remove("Schema");
    let mut merged = defaults();
    for (key, value) in &config {
        merged.insert(key.clone(), value.clone());
    }
    if let Some(template) = merged.get("VerificationMessageTemplate").cloned() {
        for (key, from) in [
            ("SmsVerificationMessage", "SmsMessage"),
            ("EmailVerificationSubject", "EmailSubject"),
            ("EmailVerificationMessage", "EmailMessage"),
        ] {
            if !config.contains_key(key)
                && let Some(v) = template.get(from)
            {
                merged.insert(key.to_string(), v.clone());
            }
        }
    }
    if !merged.contains_key("MfaConfiguration") {
        merged.insert("MfaConfiguration".into(), Value::from("OFF"));
    }
    let mut schema = Vec::new();
    if let Some(Value::Array(entries)) = schema_spec {
        for entry in entries {
            let Some(name) = entry.get("Name").and_then(Value::as_str) else {
                continue;
            };
            if let Some(attr) = standard_attribute(name) {
                schema.push(attr);
                continue;
            }
            let kind = entry
                .get("AttributeDataType")
                .and_then(Value::as_str)
                .unwrap_or("String");
            let mut attr = custom_attribute(&format!("custom:{name}"));
            attr["AttributeDataType"] = Value::from(kind);
            attr["Mutable"] = entry.get("Mutable").cloned().unwrap_or(Value::Bool(true));
            attr.as_object_mut()
                .map(|o| o.remove("StringAttributeConstraints"));
            if kind == "Number" {
                attr["NumberAttributeConstraints"] = entry
                    .get("NumberAttributeConstraints")
                    .cloned()
                    .unwrap_or_else(|| json!({}));
            } else if kind == "String" {
                attr["StringAttributeConstraints"] = entry
                    .get("StringAttributeConstraints")
                    .cloned()
                    .unwrap_or_else(|| json!({}));
            }
            schema.push(attr);
        }
    }
    if schema.is_empty() {
        schema = STANDARD
            .iter()
            .filter_map(|(name, ..)| standard_attribute(name))
            .collect();
    }
    (merged, schema)
}
