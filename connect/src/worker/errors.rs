//! Kafka Connect's error messages for herder requests, and how runtime errors map to
//! REST statuses.

use crate::config::ConfigIssue;
use crate::herder::HerderError;
use crate::{ConnectError, ErrorDomain};

pub(super) fn not_found(name: &str) -> HerderError {
    HerderError::NotFound(format!("Connector {name} not found"))
}

pub(super) fn herder_error(err: ConnectError) -> HerderError {
    match err.domain() {
        ErrorDomain::User => HerderError::BadRequest(err.chain()),
        ErrorDomain::External | ErrorDomain::Internal => HerderError::Internal(err.chain()),
    }
}

/// Kafka Connect's message for a config that does not validate.
pub(super) fn invalid_config_message(issues: &[ConfigIssue]) -> String {
    let mut message = format!(
        "Connector configuration is invalid and contains the following {} error(s):",
        issues.len()
    );
    for issue in issues {
        message.push('\n');
        message.push_str(&issue.to_string());
    }
    message.push_str(
        "\nYou can also find the above list of errors at the endpoint \
         `/connector-plugins/{connectorType}/config/validate`",
    );
    message
}

pub(super) fn stopped_required(name: &str) -> HerderError {
    HerderError::BadRequest(format!(
        "Connectors must be in the STOPPED state before their offsets can be modified. \
         This can be done for the specified connector by issuing a 'PUT' request to the \
         '/connectors/{name}/stop' endpoint"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_config_message_is_kafka_connects() {
        let issues = [
            ConfigIssue::new(
                "topic",
                "Missing required configuration \"topic\" which has no default value.",
            ),
            ConfigIssue::new(
                "tasks.max",
                "Invalid value 0 for configuration tasks.max: Value must be at least 1",
            ),
        ];
        assert_eq!(
            invalid_config_message(&issues),
            "Connector configuration is invalid and contains the following 2 error(s):\n\
             topic: Missing required configuration \"topic\" which has no default value.\n\
             tasks.max: Invalid value 0 for configuration tasks.max: Value must be at least 1\n\
             You can also find the above list of errors at the endpoint \
             `/connector-plugins/{connectorType}/config/validate`"
        );
    }

    #[test]
    fn offsets_need_a_stopped_connector_with_kafka_connects_message() {
        let HerderError::BadRequest(message) = stopped_required("pg") else {
            panic!("a bad request");
        };
        assert_eq!(
            message,
            "Connectors must be in the STOPPED state before their offsets can be modified. \
             This can be done for the specified connector by issuing a 'PUT' request to the \
             '/connectors/pg/stop' endpoint"
        );
    }

    #[test]
    fn runtime_errors_map_to_rest_statuses_by_domain() {
        assert!(matches!(
            herder_error(ConnectError::user("bad offset")),
            HerderError::BadRequest(m) if m == "bad offset"
        ));
        assert!(matches!(
            herder_error(ConnectError::external("cluster away")),
            HerderError::Internal(_)
        ));
    }
}
