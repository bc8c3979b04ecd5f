//! Which version of each API to speak to one broker: the highest both sides know.

use std::collections::HashMap;

use weir_core::protocol::messages::api_versions_response::ApiVersion;
use weir_core::protocol::{ApiKey, VersionRange};

use super::WireError;

/// The versions this client speaks: what the codec can encode, narrowed where an
/// older version lacks something the commands rely on.
///
/// Metadata v0 cannot ask for "no topics" (an empty list means all of them), and
/// FindCoordinator v0 only knows group coordinators, so both start at v1.
pub(crate) fn client_versions(api: ApiKey) -> VersionRange {
    let codec = api.valid_versions();
    let min = match api {
        ApiKey::Metadata | ApiKey::FindCoordinator => 1,
        _ => codec.min,
    };
    VersionRange {
        min: min.max(codec.min),
        max: codec.max,
    }
}

/// The version ranges one broker announced in its ApiVersions response.
#[derive(Debug, Clone, Default)]
pub(crate) struct BrokerVersions {
    ranges: HashMap<i16, VersionRange>,
}

impl BrokerVersions {
    pub(crate) fn new(api_keys: &[ApiVersion]) -> BrokerVersions {
        BrokerVersions {
            ranges: api_keys
                .iter()
                .map(|k| {
                    (
                        k.api_key,
                        VersionRange {
                            min: k.min_version,
                            max: k.max_version,
                        },
                    )
                })
                .collect(),
        }
    }

    /// The broker's range for `api`, if it serves it.
    pub(crate) fn broker_range(&self, api: ApiKey) -> Option<VersionRange> {
        self.ranges.get(&(api as i16)).copied()
    }

    /// The highest version of `api` that both the broker and this client speak.
    pub(crate) fn pick(&self, api: ApiKey, addr: &str) -> Result<i16, WireError> {
        let client = client_versions(api);
        let broker = self
            .broker_range(api)
            .ok_or_else(|| WireError::UnsupportedApi {
                addr: addr.to_owned(),
                api,
            })?;
        let version = client.max.min(broker.max);
        if version < client.min.max(broker.min) {
            return Err(WireError::NoCommonVersion {
                addr: addr.to_owned(),
                api,
                broker,
                client,
            });
        }
        Ok(version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announced(entries: &[(ApiKey, i16, i16)]) -> BrokerVersions {
        let keys: Vec<ApiVersion> = entries
            .iter()
            .map(|&(api, min, max)| ApiVersion {
                api_key: api as i16,
                min_version: min,
                max_version: max,
                ..Default::default()
            })
            .collect();
        BrokerVersions::new(&keys)
    }

    #[test]
    fn the_highest_common_version_is_picked() {
        let versions = announced(&[
            (ApiKey::ListTransactions, 0, 0),
            (ApiKey::Metadata, 0, 99),
            (ApiKey::WriteTxnMarkers, 0, 1),
        ]);
        assert_eq!(versions.pick(ApiKey::ListTransactions, "b:1").unwrap(), 0);
        assert_eq!(
            versions.pick(ApiKey::Metadata, "b:1").unwrap(),
            ApiKey::Metadata.valid_versions().max
        );
        assert_eq!(versions.pick(ApiKey::WriteTxnMarkers, "b:1").unwrap(), 1);
    }

    #[test]
    fn missing_apis_and_disjoint_ranges_are_errors() {
        let versions = announced(&[(ApiKey::Metadata, 0, 0), (ApiKey::FindCoordinator, 0, 0)]);
        assert!(matches!(
            versions.pick(ApiKey::DescribeProducers, "b:1"),
            Err(WireError::UnsupportedApi { .. })
        ));
        // Metadata v0 and FindCoordinator v0 are not enough for these commands.
        assert!(matches!(
            versions.pick(ApiKey::Metadata, "b:1"),
            Err(WireError::NoCommonVersion { .. })
        ));
        let err = versions.pick(ApiKey::FindCoordinator, "b:1").unwrap_err();
        assert!(
            err.to_string().contains("serves FindCoordinator v0-v0"),
            "{err}"
        );
    }
}
