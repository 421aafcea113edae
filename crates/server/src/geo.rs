//! Where an IP address is, for the event history (`EventContextData.City`, `Country`)
//! and threat protection: a MaxMind DB city database (GeoLite2-City, GeoIP2-City,
//! DB-IP City Lite...) given with `--geoip-database`. It is read into memory once at
//! start (its size, tens of MB), so a lookup is a few microseconds and touches no
//! disk; without it places are unknown, as idpool has no other source.

use std::net::IpAddr;
use std::path::Path;

pub struct GeoIp {
    reader: maxminddb::Reader<Vec<u8>>,
}

/// A located address: English names, as Cognito reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub city: Option<String>,
    pub country: Option<String>,
}

impl GeoIp {
    pub fn open(path: &Path) -> Result<GeoIp, String> {
        let reader = maxminddb::Reader::open_readfile(path)
            .map_err(|e| format!("--geoip-database {}: {e}", path.display()))?;
        Ok(GeoIp { reader })
    }

    pub fn locate(&self, ip: IpAddr) -> Option<Located> {
        let found = self.reader.lookup(ip).ok()?;
        let name = |path: &[maxminddb::PathElement<'_>]| -> Option<String> {
            found.decode_path::<String>(path).ok().flatten()
        };
        let located = Located {
            city: name(&maxminddb::path!["city", "names", "en"]),
            country: name(&maxminddb::path!["country", "names", "en"]),
        };
        (located.city.is_some() || located.country.is_some()).then_some(located)
    }
}
