//! Commands through the write side: load the aggregate, decide, append with the expected version.

use stroom_cluster::testing::TestDatabase;
use stroom_reference::domain::{section_test_stream, AnswerQuestion, Client, DomainEvent, QuestionAssigned};
use stroom_reference::{
    Append, Appender, CommandHandler, Error, Layout, NewEvent, PayloadType, Schema, Store, Strategy, TransactorConfig,
};
use uuid::Uuid;

async fn handler() -> (Store, Appender, CommandHandler) {
    let db = TestDatabase::create().await;
    let store = Store::install(db.pool().await, Schema::new(Layout::Partitioned, PayloadType::Jsonb)).await.unwrap();
    store.add_schools(&[1]).await.unwrap();
    let appender = Appender::start(Strategy::PerSchool, &store, TransactorConfig::default()).await.unwrap();
    (store.clone(), appender.clone(), CommandHandler::new(store, appender))
}

async fn assign(appender: &Appender, student: Uuid, section: Uuid, question: Uuid, version: i64) {
    let e = DomainEvent::QuestionAssigned(QuestionAssigned {
        student,
        section,
        question,
        index: version as u32,
        client: Client { app: "web".into(), version: "3.1".into() },
    });
    let event = NewEvent {
        id: Uuid::new_v4(),
        event_type: e.event_type().into(),
        recorded_at_us: 0,
        payload: e.encode(),
        metadata: "{}".into(),
    };
    let stream = section_test_stream(student, section);
    appender.append(Append { school: 1, stream, expected_version: version, events: vec![event] }).await.unwrap();
}

fn answer(student: Uuid, section: Uuid, question: Uuid) -> AnswerQuestion {
    AnswerQuestion {
        id: Uuid::new_v4(),
        student,
        section,
        question,
        answer: "x = 3".into(),
        correct: false,
        duration_ms: 12_000,
        finishes: false,
    }
}

#[tokio::test]
async fn an_answer_is_recorded_after_its_assignment_and_a_retry_is_idempotent() {
    let (store, appender, handler) = handler().await;
    let (student, section, question) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    assign(&appender, student, section, question, 0).await;
    let cmd = answer(student, section, question);
    let handled = handler.answer_question(1, &cmd, 1).await.unwrap();
    assert_eq!(handled.appended.version, 2);
    let retried = handler.answer_question(1, &cmd, 1).await.unwrap();
    assert_eq!(retried.appended, handled.appended, "a retried command gets what it got the first time");
    let test = handler.load_section_test(1, section_test_stream(student, section)).await.unwrap();
    assert_eq!((test.version, test.incorrect, test.open_question), (2, 1, None));
    assert_eq!(store.count().await.unwrap(), 2);
}

#[tokio::test]
async fn a_rejected_command_names_its_rule_and_writes_nothing() {
    let (store, _appender, handler) = handler().await;
    let cmd = answer(Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    match handler.answer_question(1, &cmd, 1).await {
        Err(Error::Rejected { rule }) => assert_eq!(rule, "an answer must follow the question's assignment"),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(store.count().await.unwrap(), 0);
}

#[tokio::test]
async fn two_answers_racing_for_one_question_record_one() {
    let (store, appender, handler) = handler().await;
    let (student, section, question) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    assign(&appender, student, section, question, 0).await;
    let (a, b) = (answer(student, section, question), answer(student, section, question));
    let (ra, rb) = tokio::join!(handler.answer_question(1, &a, 1), handler.answer_question(1, &b, 1));
    let oks = [&ra, &rb].iter().filter(|r| r.is_ok()).count();
    assert_eq!(oks, 1, "{ra:?} {rb:?}");
    let loser = if ra.is_ok() { rb } else { ra };
    assert!(matches!(loser, Err(Error::Conflict { .. } | Error::Rejected { .. })), "{loser:?}");
    assert_eq!(store.count().await.unwrap(), 2);
}
