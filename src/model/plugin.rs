//! A plugin instance's validated configuration as the model carries it: typed by the plugin
//! that parsed it (the model does not know the plugins), shown by the admin API as JSON.

use serde::Serialize;
use std::any::Any;
use std::sync::Arc;

/// What a plugin's validated configuration offers the model.
pub trait PluginSettings: Any + std::fmt::Debug + Send + Sync {
    /// The configuration as Kong shows it, defaults filled in.
    fn to_json(&self) -> serde_json::Value;
}

impl<T: Any + std::fmt::Debug + Send + Sync + Serialize> PluginSettings for T {
    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// A validated plugin configuration; the plugin that made it reads it back with [`get`].
///
/// [`get`]: PluginConfig::get
#[derive(Debug, Clone)]
pub struct PluginConfig(Arc<dyn PluginSettings>);

impl PluginConfig {
    /// Wraps a plugin's typed configuration.
    pub fn new<T: PluginSettings>(settings: T) -> PluginConfig {
        PluginConfig(Arc::new(settings))
    }

    /// The typed configuration, when it is a `T`.
    pub fn get<T: PluginSettings>(&self) -> Option<&T> {
        let any: &dyn Any = self.0.as_ref();
        any.downcast_ref::<T>()
    }
}

impl Serialize for PluginConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.to_json().serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, PartialEq)]
    struct Limits {
        minute: u32,
    }

    #[test]
    fn typed_back_and_shown_as_json() {
        let c = PluginConfig::new(Limits { minute: 3 });
        assert_eq!(c.get::<Limits>(), Some(&Limits { minute: 3 }));
        assert_eq!(c.get::<String>(), None);
        assert_eq!(
            serde_json::to_value(&c).ok(),
            Some(serde_json::json!({"minute": 3}))
        );
    }
}
