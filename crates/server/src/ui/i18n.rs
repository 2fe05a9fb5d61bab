//! The UI's message catalogue: every visible string in English and Dutch, looked up by key.
//! A missing key shows the key itself (and a test renders every key in both languages).

use store::accounts::Language;

/// Translator for one language (templates call `tr.t("key")`).
#[derive(Debug, Clone, Copy)]
pub struct Tr(pub Language);

/// `(key, English, Dutch)`.
const MESSAGES: &[(&str, &str, &str)] = &[
    ("app.name", "schoon", "schoon"),
    ("nav.skip", "Skip to content", "Naar de inhoud"),
    ("nav.queues", "Queues", "Wachtrijen"),
    ("nav.users", "Users", "Gebruikers"),
    ("nav.account", "My account", "Mijn account"),
    ("nav.logout", "Log out", "Uitloggen"),
    (
        "nav.exposure",
        "Items viewed today",
        "Vandaag bekeken items",
    ),
    ("lang.label", "Language", "Taal"),
    ("footer.label", "Public pages", "Openbare pagina's"),
    (
        "footer.report",
        "Report a web address",
        "Een webadres melden",
    ),
    ("footer.monitor", "Hosting monitor", "Hostingmonitor"),
    (
        "footer.register",
        "Register of removal orders",
        "Register van verwijderbevelen",
    ),
    ("lang.nl", "Nederlands", "Nederlands"),
    ("lang.en", "English", "English"),
    ("lang.save", "Change language", "Taal wijzigen"),
    ("login.title", "Log in", "Inloggen"),
    ("login.username", "User name", "Gebruikersnaam"),
    ("login.password", "Password", "Wachtwoord"),
    ("login.submit", "Log in", "Inloggen"),
    (
        "login.failed",
        "Wrong user name or password.",
        "Onjuiste gebruikersnaam of wachtwoord.",
    ),
    (
        "login.locked",
        "Too many failed attempts: this account is locked for 15 minutes.",
        "Te veel mislukte pogingen: dit account is 15 minuten geblokkeerd.",
    ),
    (
        "login.expired",
        "The form expired; please try again.",
        "Het formulier is verlopen; probeer het opnieuw.",
    ),
    ("totp.title", "Second factor", "Tweede factor"),
    (
        "totp.code",
        "Code from your authenticator app",
        "Code uit uw authenticator-app",
    ),
    ("totp.submit", "Verify", "Controleren"),
    (
        "totp.failed",
        "That code is not valid.",
        "Die code is niet geldig.",
    ),
    (
        "totp.setup",
        "Set up a second factor",
        "Tweede factor instellen",
    ),
    (
        "totp.secret",
        "Secret (enter it in your authenticator app)",
        "Geheim (voer het in uw authenticator-app in)",
    ),
    (
        "totp.enabled",
        "A second factor is active.",
        "Er is een tweede factor actief.",
    ),
    ("queues.title", "Work queues", "Werkvoorraad"),
    ("queues.to_classify", "To classify", "Te classificeren"),
    ("queues.to_verify", "To verify", "Te verifiëren"),
    ("queues.needs_contact", "Needs contact", "Contact nodig"),
    ("queues.police", "Police", "Politie"),
    ("queues.monitoring", "Monitoring", "Monitoring"),
    ("queues.changed_hoster", "Changed hoster", "Andere hoster"),
    (
        "queues.not_yet",
        "Not available yet",
        "Nog niet beschikbaar",
    ),
    ("queues.empty", "Nothing waiting.", "Niets in de wachtrij."),
    ("queues.items", "items", "items"),
    ("queues.open", "Open", "Openen"),
    ("queues.locked_by", "Being handled by", "In behandeling bij"),
    ("report.title", "Report", "Melding"),
    ("report.url", "Reported URL", "Gemelde URL"),
    ("report.state", "State", "Status"),
    ("report.created", "Received", "Ontvangen"),
    (
        "report.locked_other",
        "Another analyst is working on this report; you can look but not classify.",
        "Een andere analist werkt aan deze melding; u kunt kijken maar niet classificeren.",
    ),
    (
        "report.help",
        "Images are blurred. Click an item or press Enter on it to reveal it (each reveal is recorded); it blurs again when you leave it. Keys: 1 baseline, 2 national, 3 not illegal, 4 ignore (on the selected items, or the focused one); Space selects; a agree, d disagree when verifying.",
        "Afbeeldingen zijn vervaagd. Klik op een item of druk er Enter op om het te tonen (elke weergave wordt vastgelegd); het vervaagt weer als u het verlaat. Toetsen: 1 baseline, 2 nationaal, 3 niet illegaal, 4 negeren (op de geselecteerde items, of het item met focus); Spatie selecteert; a akkoord, d niet akkoord bij verifiëren.",
    ),
    ("item.reveal", "Reveal item", "Item tonen"),
    ("item.select", "Select item", "Item selecteren"),
    ("item.state", "State", "Status"),
    ("item.classification", "Classification", "Classificatie"),
    (
        "item.no_evidence",
        "No evidence stored",
        "Geen bewijs opgeslagen",
    ),
    ("item.found_as", "Found as", "Gevonden als"),
    (
        "classify.legend",
        "Classify the selected items",
        "Geselecteerde items classificeren",
    ),
    (
        "classify.item_legend",
        "Classify this item",
        "Dit item classificeren",
    ),
    ("classify.baseline", "Baseline", "Baseline"),
    ("classify.national", "National", "Nationaal"),
    ("classify.not_illegal", "Not illegal", "Niet illegaal"),
    ("classify.ignore", "Ignore", "Negeren"),
    ("classify.done", "Saved.", "Opgeslagen."),
    (
        "verify.legend",
        "Verify the first analyst's verdict",
        "Oordeel van de eerste analist verifiëren",
    ),
    ("verify.agree", "Agree", "Akkoord"),
    ("verify.disagree", "Disagree", "Niet akkoord"),
    ("error.not_found", "Not found", "Niet gevonden"),
    (
        "error.not_found_text",
        "This page does not exist or is not yours to see.",
        "Deze pagina bestaat niet of is niet voor u bestemd.",
    ),
    ("error.forbidden", "Not allowed", "Niet toegestaan"),
    (
        "error.forbidden_text",
        "Your role does not give access to this page.",
        "Uw rol geeft geen toegang tot deze pagina.",
    ),
    ("error.conflict", "That could not be done", "Dat kon niet"),
    ("error.back", "Back", "Terug"),
    ("users.title", "Users", "Gebruikers"),
    ("users.create", "Create user", "Gebruiker aanmaken"),
    ("users.username", "User name", "Gebruikersnaam"),
    ("users.display_name", "Display name", "Weergavenaam"),
    ("users.role", "Role", "Rol"),
    (
        "users.org",
        "Organisation (provider users only)",
        "Organisatie (alleen providergebruikers)",
    ),
    ("users.org_none", "None", "Geen"),
    (
        "users.password",
        "Initial password (at least 12 characters)",
        "Eerste wachtwoord (minstens 12 tekens)",
    ),
    ("users.language", "Language", "Taal"),
    ("users.created", "User created.", "Gebruiker aangemaakt."),
    (
        "users.exposure",
        "Items viewed today",
        "Vandaag bekeken items",
    ),
    ("users.status", "Status", "Status"),
    ("users.active", "active", "actief"),
    ("users.locked", "locked", "geblokkeerd"),
    ("users.disabled", "disabled", "uitgeschakeld"),
    (
        "users.password_short",
        "The password must be at least 12 characters.",
        "Het wachtwoord moet minstens 12 tekens hebben.",
    ),
    ("role.admin", "Administrator", "Beheerder"),
    ("role.analyst", "Analyst", "Analist"),
    (
        "role.verifier",
        "Verifier (second analyst)",
        "Verificateur (tweede analist)",
    ),
    ("role.police", "Police liaison", "Politie-contact"),
    ("role.regulator", "Regulator officer", "Toezichthouder"),
    ("role.provider", "Provider user", "Providergebruiker"),
    ("account.title", "My account", "Mijn account"),
    ("account.password", "Change password", "Wachtwoord wijzigen"),
    ("account.current", "Current password", "Huidig wachtwoord"),
    (
        "account.new",
        "New password (at least 12 characters)",
        "Nieuw wachtwoord (minstens 12 tekens)",
    ),
    (
        "account.changed",
        "Password changed.",
        "Wachtwoord gewijzigd.",
    ),
    (
        "account.wrong",
        "The current password is wrong.",
        "Het huidige wachtwoord is onjuist.",
    ),
    ("home.title", "Welcome", "Welkom"),
    (
        "home.text",
        "There is nothing for your role here yet.",
        "Er is hier nog niets voor uw rol.",
    ),
];

/// Every catalogue: the common one above and those of the page modules.
const CATALOGUES: &[&[(&str, &str, &str)]] = &[
    MESSAGES,
    super::casework::MESSAGES,
    super::manage::MESSAGES,
    super::portal::MESSAGES,
    super::regulator::MESSAGES,
];

fn lookup(key: &str) -> Option<&'static (&'static str, &'static str, &'static str)> {
    CATALOGUES
        .iter()
        .flat_map(|c| c.iter())
        .find(|(k, _, _)| *k == key)
}

impl Tr {
    /// The message for `key` in this language.
    pub fn t(&self, key: &str) -> &'static str {
        match lookup(key) {
            Some((_, en, nl)) => match self.0 {
                Language::En => en,
                Language::Nl => nl,
            },
            None => {
                tracing::warn!(key, "missing UI message");
                "?"
            }
        }
    }

    /// The `lang` attribute.
    pub fn code(&self) -> &'static str {
        self.0.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_translated() {
        let mut seen = std::collections::HashSet::new();
        for (k, en, nl) in CATALOGUES.iter().flat_map(|c| c.iter()) {
            assert!(seen.insert(k), "duplicate key {k}");
            assert!(!en.is_empty() && !nl.is_empty(), "{k}");
        }
        assert_eq!(Tr(Language::Nl).t("nav.logout"), "Uitloggen");
        assert_eq!(Tr(Language::En).t("nav.logout"), "Log out");
        assert_eq!(Tr(Language::En).t("no.such.key"), "?");
    }

    /// Every `tr.t("…")` in the templates names a key of the catalogue.
    #[test]
    fn templates_use_known_keys() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates/ui");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for part in text.split("tr.t(\"").skip(1) {
                let key = part.split('"').next().unwrap();
                assert!(
                    lookup(key).is_some(),
                    "{}: unknown key {key}",
                    path.display()
                );
            }
        }
    }
}
