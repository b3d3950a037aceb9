use super::*;

fn code(first17: &str) -> AgencyCode {
    let check = AgencyCode::check_char(first17).unwrap();
    AgencyCode::parse(&format!("{first17}{check}")).unwrap()
}

#[test]
fn a_replaced_party_stays_a_reader_but_loses_its_role() {
    let (a, b, c) = (
        code("11350100MB0100001"),
        code("11350100MB0100002"),
        code("11350100MB0100003"),
    );
    let mut parties = Parties::of([(Role::Sender, a.clone()), (Role::Recipient, b.clone())]);
    parties.replace(Role::Recipient, c.clone());
    assert_eq!(parties.get(Role::Recipient), Some(&c));
    assert!(parties.contains(&b));
    assert_eq!(parties.roles_of(&b), Vec::<Role>::new());
    assert_eq!(parties.all(), vec![a, c, b]);
}

#[test]
fn recipients_exclude_the_actor_non_parties_and_repeats() {
    let (a, b, c) = (
        code("11350100MB0100001"),
        code("11350100MB0100002"),
        code("11350100MB0100003"),
    );
    let parties = Parties::of([(Role::Sender, a.clone()), (Role::Recipient, b.clone())]);
    assert_eq!(
        recipients(&parties, &a, [a.clone(), b.clone(), b.clone(), c]),
        vec![b]
    );
}

#[test]
fn text_checks_blank_and_length_in_characters() {
    assert!(text("note", "", 5, false).is_ok());
    assert_eq!(
        text("note", "  ", 5, true),
        Err(invalid("note", "must not be empty"))
    );
    assert!(text("note", "五个汉字啊", 5, true).is_ok());
    assert!(text("note", "六个汉字啊啊", 5, true).is_err());
}

#[test]
fn a_title_holds_the_256_characters_the_contract_promises() {
    // common.proto, Document.title: "at most 256 characters" (issue 12, D8: 200 applied).
    assert!(text("documents.title", &"长".repeat(256), TITLE_MAX_CHARS, true).is_ok());
    assert!(text("documents.title", &"长".repeat(257), TITLE_MAX_CHARS, true).is_err());
}

#[test]
fn phone_numbers_are_digits_with_an_optional_plus_and_hyphens() {
    for good in ["13800000000", "0591-87654321", "+86-591-87654321", "95598"] {
        assert!(phone("case_officer_phone", good, true).is_ok(), "{good}");
    }
    for bad in [
        "call me",
        "0591 87654321",
        "0591--87654321",
        "-0591",
        "0591-",
        "++86",
        "1234",
        "123456789012345678901",
        "１３８００",
    ] {
        let err = phone("case_officer_phone", bad, false).unwrap_err();
        assert_eq!(err.field(), Some("case_officer_phone"), "{bad}");
    }
    assert!(phone("case_officer_phone", "", false).is_ok());
    assert!(phone("case_officer_phone", "", true).is_err());
}

#[test]
fn an_item_of_a_list_is_named_with_its_index() {
    let titles = ["移送书", "调查报告", " "];
    let documents: Vec<Document> = titles
        .iter()
        .map(|title| Document {
            kind: DocumentKind::Other,
            title: (*title).to_owned(),
            sha256: None,
        })
        .collect();
    let err = super::documents(&documents, 0).unwrap_err();
    assert_eq!(err.field(), Some("documents.title"));
    assert_eq!(err.item(), Some(2));
    assert_eq!(err.to_string(), "documents[2].title must not be empty");
    assert_eq!(item_path("parties", Some(0)), "parties[0]");
    assert_eq!(item_path("summary", None), "summary");
}

#[test]
fn text_allows_line_breaks_and_refuses_every_other_control_character() {
    assert!(text("note", "第一行\n第二行\r\n第三行", 50, true).is_ok());
    for bad in [
        "\u{1b}[2J清屏",
        "空\u{0}字符",
        "响铃\u{7}",
        "删除\u{7f}",
        "回车\r覆盖",
        "制表\t",
        "\u{202e}反向",
        "\u{2067}隔离",
    ] {
        let err = text("summary", bad, 50, true).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("summary must not contain the control character"),
            "{bad:?}: {err}"
        );
    }
}
