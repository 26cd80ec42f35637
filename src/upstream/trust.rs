//! Trust lists for upstream TLS: the CA certificates a service (or an https probe) verifies
//! its peer against, in Pingora's form.

use crate::model::CaCertificate;
use pingora::utils::tls::WrappedX509;
use std::sync::Arc;

/// CA certificates to verify TLS against (Pingora's form).
pub type TrustList = Arc<[WrappedX509]>;

/// The CA certificates named by `ids`, as Pingora's trust list.
pub fn trust(ids: &[String], cas: &[CaCertificate]) -> TrustList {
    let mut list = Vec::new();
    for id in ids {
        for ca in cas.iter().filter(|c| &c.id == id) {
            for der in &ca.der {
                // `der` was checked to parse as X.509 at load.
                list.push(WrappedX509::new(der.clone(), |raw| {
                    pingora::utils::tls::parse_x509(raw)
                }));
            }
        }
    }
    Arc::from(list.into_boxed_slice())
}
