//! Invocation targets: `DEPLOYMENT` or `DEPLOYMENT.FUNCTION`.

use crate::journal::Deployment;

/// A parsed invocation target.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The deployment name.
    pub deployment: String,
    /// The function, when named.
    pub function: Option<String>,
}

/// Why a target names no function.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Empty or malformed.
    #[error("`function` must be `DEPLOYMENT` or `DEPLOYMENT.FUNCTION`, got `{0}`")]
    Malformed(String),
    /// No deployment has this name.
    #[error("no deployment named `{0}`")]
    UnknownDeployment(String),
    /// The deployment does not export this function.
    #[error("deployment `{deployment}` has no function `{function}`; it exports: {available}")]
    UnknownFunction {
        deployment: String,
        function: String,
        available: String,
    },
    /// The deployment exports several functions and none was named.
    #[error(
        "deployment `{deployment}` exports several functions; name one as \
         `{deployment}.FUNCTION`, one of: {available}"
    )]
    Ambiguous {
        deployment: String,
        available: String,
    },
}

impl Target {
    /// Parses `DEPLOYMENT` or `DEPLOYMENT.FUNCTION`.
    pub fn parse(text: &str) -> Result<Self, TargetError> {
        let malformed = || TargetError::Malformed(text.chars().take(200).collect());
        let (deployment, function) = match text.split_once('.') {
            Some((d, f)) => (d, Some(f)),
            None => (text, None),
        };
        if deployment.is_empty() || function.is_some_and(|f| f.is_empty() || f.contains('.')) {
            return Err(malformed());
        }
        Ok(Target {
            deployment: deployment.to_string(),
            function: function.map(str::to_string),
        })
    }

    /// The function of `deployment` this target names.
    pub fn resolve(&self, deployment: &Deployment) -> Result<String, TargetError> {
        let available = || deployment.functions.join(", ");
        match (&self.function, deployment.functions.as_slice()) {
            (Some(f), functions) if functions.contains(f) => Ok(f.clone()),
            (Some(f), _) => Err(TargetError::UnknownFunction {
                deployment: deployment.name.clone(),
                function: f.chars().take(200).collect(),
                available: available(),
            }),
            (None, [only]) => Ok(only.clone()),
            (None, _) => Err(TargetError::Ambiguous {
                deployment: deployment.name.clone(),
                available: available(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ComponentHash;

    fn deployment(functions: &[&str]) -> Deployment {
        Deployment {
            tenant: "t".into(),
            name: "app".into(),
            component: ComponentHash([0; 32]),
            functions: functions.iter().map(|f| f.to_string()).collect(),
            version: 1,
            size: 0,
            deployed_at_ms: 0,
            policy: Default::default(),
        }
    }

    #[test]
    fn a_single_function_is_invoked_by_the_deployment_name() {
        let t = Target::parse("app").expect("parses");
        assert_eq!(
            t.resolve(&deployment(&["hello"])).ok(),
            Some("hello".into())
        );
    }

    #[test]
    fn several_functions_need_a_function_name() {
        let d = deployment(&["a", "b"]);
        assert!(matches!(
            Target::parse("app").expect("parses").resolve(&d),
            Err(TargetError::Ambiguous { .. })
        ));
        assert_eq!(
            Target::parse("app.b").expect("parses").resolve(&d).ok(),
            Some("b".into())
        );
        assert!(matches!(
            Target::parse("app.c").expect("parses").resolve(&d),
            Err(TargetError::UnknownFunction { .. })
        ));
    }

    #[test]
    fn malformed_targets_are_rejected() {
        for bad in ["", ".f", "app.", "app.f.g"] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }
}
