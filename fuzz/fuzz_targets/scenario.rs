//! A testkit scenario file (TOML) from any text: `Scenario::from_toml` returns `Ok` or `Err`;
//! an accepted scenario prints back (`toml::to_string`) to text that parses to a scenario
//! printing the same, and building its server model, its client Pacer and its walk never
//! panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paceline_testkit::scenario::Scenario;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(scenario) = Scenario::from_toml(text) else {
        return;
    };
    // Floats may be NaN, so compare the printed forms, not the values.
    let printed = toml::to_string(&scenario).expect("a parsed scenario prints");
    let again = Scenario::from_toml(&printed).expect("and parses back");
    assert_eq!(toml::to_string(&again).expect("prints"), printed);
    let _ = scenario.model();
    let _ = scenario.pacer();
    let _ = scenario.walk();
});
