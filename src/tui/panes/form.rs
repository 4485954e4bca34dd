//! The Train pane's form: the model, the training settings and the chosen model's own
//! hyperparameters, as typed and checked field by field.
//!
//! The model's fields are not listed here: they are read from the model's default config as JSON
//! (its numbers and switches), so every model in [`ModelConfig::NAMES`] gets its form, with its
//! defaults, without this file knowing it. Choosing a model resets the learning rate to the
//! paper's for that model and its own fields to their defaults; epochs, batch, seed and device are
//! shared by the protocol and stay as typed.

use serde_json::Value;

use crate::model::ModelConfig;
use crate::train::TrainConfig;

/// What a field holds, and so how it is checked and written into the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One of [`ModelConfig::NAMES`], chosen with left/right (or enter).
    Model,
    /// A whole number of at least 1.
    Count,
    /// A whole number (seeds).
    Whole,
    /// A positive number (the learning rate).
    Positive,
    /// A number of at least 0 (weights of loss terms, ratios).
    NonNegative,
    /// true / false.
    Switch,
    /// cpu, cuda, cuda:N.
    Device,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The config key (`codebook_size`); shown with spaces.
    pub key: String,
    pub value: String,
    pub kind: Kind,
    /// A field of the model's own config (not of the training).
    pub model: bool,
}

impl Field {
    fn new(key: &str, value: String, kind: Kind, model: bool) -> Field {
        Field {
            key: key.to_string(),
            value,
            kind,
            model,
        }
    }

    /// The label shown in the form.
    pub fn label(&self) -> String {
        self.key.replace('_', " ")
    }
}

/// The form's values as typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    pub fields: Vec<Field>,
    pub selected: usize,
}

impl Default for Form {
    fn default() -> Self {
        Form::for_model(ModelConfig::NAMES[0], None)
    }
}

/// The numbers and switches of a model's default config, in the config's order.
fn model_fields(cfg: &ModelConfig) -> Vec<Field> {
    let Ok(Value::Object(map)) = serde_json::to_value(cfg) else {
        return Vec::new();
    };
    map.into_iter()
        .filter(|(k, _)| k != "kind")
        .filter_map(|(k, v)| {
            let (value, kind) = match v {
                Value::Bool(b) => (b.to_string(), Kind::Switch),
                Value::Number(n) if n.is_u64() => (n.to_string(), Kind::Count),
                Value::Number(n) => (n.to_string(), Kind::NonNegative),
                // Nested or textual settings keep their defaults.
                _ => return None,
            };
            Some(Field::new(&k, value, kind, true))
        })
        .collect()
}

impl Form {
    /// The form for `name` with its paper defaults; `keep` carries over the shared settings
    /// (epochs, batch, seed, device) of a form being switched.
    pub fn for_model(name: &str, keep: Option<&Form>) -> Form {
        let cfg = ModelConfig::from_name(name).unwrap_or_default();
        let t = TrainConfig::default();
        let shared = |key: &str, default: String| {
            keep.and_then(|f| f.value(key).map(str::to_string))
                .unwrap_or(default)
        };
        let mut fields = vec![
            Field::new("model", cfg.name().to_string(), Kind::Model, false),
            Field::new(
                "epochs",
                shared("epochs", t.epochs.to_string()),
                Kind::Count,
                false,
            ),
            Field::new(
                "batch",
                shared("batch", t.batch.to_string()),
                Kind::Count,
                false,
            ),
            Field::new("lr", format!("{:e}", cfg.paper_lr()), Kind::Positive, false),
            Field::new(
                "seed",
                shared("seed", t.seed.to_string()),
                Kind::Whole,
                false,
            ),
            Field::new(
                "device",
                shared("device", "cpu".into()),
                Kind::Device,
                false,
            ),
        ];
        fields.extend(model_fields(&cfg));
        Form {
            fields,
            selected: keep.map(|f| f.selected).unwrap_or(0),
        }
    }

    /// The chosen model's name.
    pub fn model(&self) -> &str {
        self.value("model").unwrap_or(ModelConfig::NAMES[0])
    }

    /// The value of the field `key`.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.key == key)
            .map(|f| f.value.as_str())
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Whether field `i` is the model choice (cycled, not typed).
    pub fn is_choice(&self, i: usize) -> bool {
        self.fields.get(i).is_some_and(|f| f.kind == Kind::Model)
    }

    /// Moves to the next (`delta` 1) or previous (-1) model and resets the fields to its defaults.
    pub fn cycle_model(&mut self, delta: isize) {
        let names = ModelConfig::NAMES;
        let at = names.iter().position(|n| *n == self.model()).unwrap_or(0);
        let next = super::wrap_step(at, names.len(), delta);
        *self = Form::for_model(names[next], Some(self));
    }

    /// Checks a value for field `i`; the message names the field.
    pub fn check(&self, i: usize, v: &str) -> Result<(), String> {
        let Some(field) = self.fields.get(i) else {
            return Err(format!("no field {i}"));
        };
        check(field, v)
    }

    /// Sets field `i` after checking it.
    pub fn set(&mut self, i: usize, v: &str) -> Result<(), String> {
        self.check(i, v)?;
        self.fields[i].value = v.trim().to_string();
        Ok(())
    }

    /// The model and training configs and the device the form describes.
    pub fn configs(&self) -> Result<(ModelConfig, TrainConfig, crate::device::DeviceSpec), String> {
        for f in &self.fields {
            check(f, &f.value)?;
        }
        let get = |key: &str| self.value(key).unwrap_or_default().trim();
        let base = ModelConfig::from_name(self.model()).ok_or_else(|| {
            format!(
                "model: '{}' is not one of {:?}",
                self.model(),
                ModelConfig::NAMES
            )
        })?;
        let Ok(Value::Object(mut map)) = serde_json::to_value(&base) else {
            return Err("the model's config is not an object".into());
        };
        for f in self.fields.iter().filter(|f| f.model) {
            map.insert(f.key.clone(), json_value(f)?);
        }
        let model: ModelConfig =
            serde_json::from_value(Value::Object(map)).map_err(|e| format!("model config: {e}"))?;
        let train = TrainConfig {
            epochs: get("epochs").parse().expect("checked"),
            batch: get("batch").parse().expect("checked"),
            lr: get("lr").parse().expect("checked"),
            seed: get("seed").parse().expect("checked"),
            checkpoint_every: 1,
            ..TrainConfig::default()
        };
        let device = get("device").parse().map_err(|e: String| e)?;
        Ok((model, train, device))
    }
}

fn json_value(f: &Field) -> Result<Value, String> {
    let v = f.value.trim();
    Ok(match f.kind {
        Kind::Switch => Value::Bool(v.parse().expect("checked")),
        Kind::Count | Kind::Whole => Value::from(v.parse::<u64>().expect("checked")),
        _ => Value::from(v.parse::<f64>().expect("checked")),
    })
}

fn check(field: &Field, v: &str) -> Result<(), String> {
    let v = v.trim();
    let name = field.label();
    let bad = |what: &str| Err(format!("{name}: '{v}' is not {what}"));
    match field.kind {
        Kind::Model => match ModelConfig::NAMES.contains(&v) {
            true => Ok(()),
            false => bad(&format!("one of {}", ModelConfig::NAMES.join(", "))),
        },
        Kind::Count => match v.parse::<u64>() {
            Ok(n) if n >= 1 => Ok(()),
            _ => bad("a whole number of at least 1"),
        },
        Kind::Whole => v
            .parse::<u64>()
            .map(|_| ())
            .or_else(|_| bad("a whole number")),
        Kind::Positive => match v.parse::<f64>() {
            Ok(x) if x.is_finite() && x > 0.0 => Ok(()),
            _ => bad("a positive number"),
        },
        Kind::NonNegative => match v.parse::<f64>() {
            Ok(x) if x.is_finite() && x >= 0.0 => Ok(()),
            _ => bad("a number of at least 0"),
        },
        Kind::Switch => v
            .parse::<bool>()
            .map(|_| ())
            .or_else(|_| bad("true or false")),
        Kind::Device => v
            .parse::<crate::device::DeviceSpec>()
            .map(|_| ())
            .map_err(|e| format!("device: {e}")),
    }
}
