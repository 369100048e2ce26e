use std::path::Path;

use super::*;

/// Two pages a round, `A` then `W` (a wait page), each timing out after 5 s.
fn manifest(rounds: u32) -> Manifest {
    let text = format!(
        "name = \"g\"\nplayers_per_group = 2\nnum_rounds = {rounds}\ncomponent = \"g.wasm\"\n\
         [[page]]\nname = \"A\"\ntemplate = \"A.hbs\"\ntimeout_seconds = 5\n\
         [[page]]\nname = \"W\"\ntemplate = \"W.hbs\"\nkind = \"wait\"\ntimeout_seconds = 5\n"
    );
    Manifest::parse(Path::new("game.toml"), &text).expect("manifest")
}

fn participant(id_in_group: u32) -> Participant {
    Participant {
        code: format!("c{id_in_group}"),
        session: "s".into(),
        index: id_in_group - 1,
        group: 1,
        id_in_group,
        round: 1,
        page_index: 0,
        page_entered_ms: 1000,
        page_viewed_ms: Some(1000),
        page_deadline_ms: None,
    }
}

#[test]
fn pages_roll_over_into_the_next_round_then_finish() {
    let m = manifest(2);
    let mut p = participant(1);
    let mut seen = Vec::new();
    for _ in 0..6 {
        step(&mut p, &m, 7);
        seen.push((p.round, p.page_index));
    }
    assert_eq!(seen, vec![(1, 1), (2, 0), (2, 1), (2, 2), (2, 2), (2, 2)]);
    assert!(finished(&p, &m));
    assert_eq!(current_page(&p, &m).map(|page| page.name.as_str()), None);
    assert_eq!(p.page_entered_ms, 7);
}

#[test]
fn wait_pages_time_out_too() {
    let m = manifest(1);
    let mut p = participant(1);
    assert_eq!(deadline(&p, &m), Some(6000));
    p.page_index = 1;
    assert_eq!(deadline(&p, &m), Some(6000), "a wait page with a timeout counts from its first view too");
    p.page_index = 2;
    assert_eq!(deadline(&p, &m), None);
}

#[test]
fn a_timeout_counts_from_the_first_view_of_the_page_not_the_arrival() {
    let m = manifest(1);
    let mut p = participant(1);
    p.page_viewed_ms = None;
    assert_eq!(deadline(&p, &m), None, "not loaded yet: no clock runs");
    assert!(view(&mut p, 4000));
    assert_eq!(deadline(&p, &m), Some(9000), "5 s from the first view at 4 s, not from the arrival at 1 s");
    assert!(!view(&mut p, 8000), "a reload does not restart the clock");
    assert_eq!(deadline(&p, &m), Some(9000));
    p.page_deadline_ms = Some(7500);
    assert_eq!(deadline(&p, &m), Some(7500), "get-timeout-seconds' moment wins");
    step(&mut p, &m, 9000);
    assert_eq!((p.page_viewed_ms, p.page_deadline_ms), (None, None), "the next page is not seen yet");
}

#[test]
fn a_wait_page_releases_the_group_only_when_all_of_it_stands_there() {
    let m = manifest(2);
    let mut group = [participant(1), participant(2)];
    group[0].page_index = 1;
    assert!(on_wait_page(&group[0], &m));
    assert_eq!(leaving_wait(&group, &m, (1, 1), false), Vec::<usize>::new(), "one member is still on page A");
    group[1].page_index = 1;
    assert_eq!(leaving_wait(&group, &m, (1, 1), false), vec![0, 1]);
    assert_eq!(leaving_wait(&group, &m, (1, 0), false), Vec::<usize>::new(), "page A is not a wait page");
    assert_eq!(leaving_wait(&[], &m, (1, 1), false), Vec::<usize>::new());
}

#[test]
fn a_timed_out_wait_page_lets_those_there_go_and_a_latecomer_follows_alone() {
    let m = manifest(2);
    let mut group = [participant(1), participant(2), participant(3)];
    group[0].page_index = 1;
    group[1].page_index = 1;
    assert_eq!(leaving_wait(&group, &m, (1, 1), false), Vec::<usize>::new(), "player 3 is missing");
    assert_eq!(leaving_wait(&group, &m, (1, 1), true), vec![0, 1], "the page timed out: those there go");
    for p in &mut group[..2] {
        step(p, &m, 9);
    }
    assert_eq!(leaving_wait(&group, &m, (1, 1), false), Vec::<usize>::new(), "nobody is there");
    group[2].page_index = 1;
    assert_eq!(leaving_wait(&group, &m, (1, 1), false), vec![2], "the others are past it: the latecomer goes on");
}
