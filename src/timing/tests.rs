// SPDX-License-Identifier: MIT OR Apache-2.0

use super::*;

const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;

#[test]
fn counted_timestamps_do_not_drift() {
    let mut t = Timestamper::new(30000, 1001);
    let mut prev = None;
    for k in 0..100_000u64 {
        let (pts, dur) = t.next(None);
        assert_eq!(pts, (k as u128 * 1_001_000_000_000 / 30000) as u64);
        assert_eq!(dur, 33_366_666);
        assert!(prev.is_none_or(|p| pts > p));
        prev = Some(pts);
    }
    // Frame 3 of a 30/1 stream is shown from 0.1 s to 0.1333 s.
    let t = Timestamper::new(30, 1);
    assert_eq!(t.frame_at(100_000_000), 3);
    assert_eq!(t.frame_at(133_333_332), 3);
    assert_eq!(t.frame_at(133_333_333), 4); // the PTS of frame 4
    assert_eq!(t.frame_at(t.offset_of(7)), 7);
}

#[test]
fn rates_above_1000_fps_have_no_millisecond_floor() {
    let mut t = Timestamper::new(2000, 1);
    let got: Vec<_> = (0..4).map(|_| t.next(None)).collect();
    assert_eq!(
        got,
        vec![
            (0, 500_000),
            (500_000, 500_000),
            (1_000_000, 500_000),
            (1_500_000, 500_000)
        ]
    );
    // Given times that collide are spread one frame apart, not 1 ms.
    let mut t = Timestamper::new(2000, 1);
    assert_eq!(t.next(Some(S)).0, S);
    assert_eq!(t.next(Some(S)).0, S + 500_000);
    let mut t = Timestamper::new(1_000_000, 1);
    assert_eq!(t.next(None), (0, 1000));
    assert_eq!(t.next(None), (1000, 1000));
}

#[test]
fn upstream_times_are_used_but_never_repeated() {
    let mut t = Timestamper::new(10, 1);
    assert_eq!(t.next(Some(5 * S)).0, 5 * S);
    // Three frames completed by the same input buffer.
    assert_eq!(t.next(Some(5_200 * MS)).0, 5_200 * MS);
    assert_eq!(t.next(Some(5_200 * MS)).0, 5_201 * MS);
    assert_eq!(t.next(Some(5_200 * MS)).0, 5_202 * MS);
    // Time going backwards upstream is clamped too.
    assert_eq!(t.next(Some(1)).0, 5_203 * MS);
    // Without upstream time, counting continues one (measured) interval later.
    let (pts, dur) = t.next(None);
    let expected_interval = {
        let mut i = 200 * MS; // 5.0 -> 5.2
        for d in [MS, MS, MS] {
            i = (i * 7 + d) / 8;
        }
        i
    };
    assert_eq!(pts, 5_203 * MS + expected_interval);
    assert_eq!(dur, 100 * MS);
    // Timed frames get the mean interval as duration.
    let mut t = Timestamper::new(30, 1);
    assert_eq!(t.next(Some(0)).1, 33_333_333);
    assert_eq!(t.next(Some(100 * MS)).1, 100 * MS);
    assert_eq!(t.next(Some(200 * MS)).1, 100 * MS);
}

#[test]
fn framerate_change_and_reset() {
    let mut t = Timestamper::new(0, 0);
    assert_eq!(t.framerate(), (30, 1));
    t.next(None);
    t.next(None);
    t.set_framerate(10, 1);
    assert_eq!(t.next(None).0, 66_666_666);
    assert_eq!(t.next(None).0, 166_666_666);
    t.reset(0, 50);
    assert_eq!(t.next(None), (5 * S, 100 * MS));
    // A reset forgets the previous PTS: a new segment may start lower.
    t.reset(0, 0);
    assert_eq!(t.next(None).0, 0);
}

#[test]
fn huge_times_never_reach_none() {
    let mut t = Timestamper::new(1, 1_000_000);
    for _ in 0..3 {
        let (pts, _) = t.next(None);
        assert!(pts <= MAX_TIME);
    }
    let mut t = Timestamper::new(15, 1);
    assert_eq!(t.next(Some(u64::MAX)).0, MAX_TIME);
    assert!(t.next(Some(u64::MAX)).0 <= MAX_TIME);
    assert!(t.next(None).0 <= MAX_TIME);
    t.reset(u64::MAX, u64::MAX);
    assert!(t.next(None).0 <= MAX_TIME);
}

#[test]
fn x_timestamp_values() {
    assert_eq!(
        parse_x_timestamp("1700000000.123456"),
        Some(1_700_000_000_123_456_000)
    );
    assert_eq!(parse_x_timestamp(" 12 "), Some(12 * S));
    assert_eq!(parse_x_timestamp("1.5"), Some(1_500 * MS));
    assert_eq!(parse_x_timestamp("1.1234567891"), Some(1_123_456_789));
    // u64::MAX ns: would be GST_CLOCK_TIME_NONE.
    assert_eq!(parse_x_timestamp("18446744073.709551615"), None);
    assert_eq!(parse_x_timestamp("99999999999999999999"), None);
    assert_eq!(parse_x_timestamp("4611686018.427387905"), None);
    for bad in ["", ".5", "-1", "1e9", "1.2.3", "+1", "1.-5", "abc"] {
        assert_eq!(parse_x_timestamp(bad), None, "{bad}");
    }
}

#[test]
fn framerate_values() {
    assert_eq!(parse_framerate("15"), Some((15, 1)));
    assert_eq!(parse_framerate("12.5"), Some((25, 2)));
    assert_eq!(parse_framerate("29.97"), Some((2997, 100)));
    assert_eq!(parse_framerate("30000/1001"), Some((30000, 1001)));
    for bad in [
        "0",
        "",
        "x",
        "1/0",
        "0/1",
        "1000000",
        "18446744073709551615/1",
    ] {
        assert_eq!(parse_framerate(bad), None, "{bad}");
    }
}

/// A camera recording at 12.5 fps: frames 80 ms apart on the camera clock.
fn camera(from: u64, n: u64) -> impl Iterator<Item = u64> {
    (0..n).map(move |k| from + k * 80 * MS)
}

#[test]
fn x_clock_is_relative_to_the_first_frame() {
    let mut p = Policy::new(Mode::Auto, 30, 1);
    let pts: Vec<u64> = camera(1_700_000_000 * S, 4)
        .map(|x| {
            p.next(FrameClock {
                x_timestamp: Some(x),
                ..Default::default()
            })
            .0
        })
        .collect();
    assert_eq!(pts, vec![0, 80 * MS, 160 * MS, 240 * MS]);
    // The duration follows the camera's interval, not 30 fps.
    assert_eq!(p.ts.duration(), 80 * MS);
}

#[test]
fn x_clock_reanchors_after_a_reboot_and_an_sntp_step() {
    let mut p = Policy::new(Mode::XTimestamp, 30, 1);
    let mut pts = Vec::new();
    // Uptime clock at 500 s, then a reboot (uptime 3 s), then an SNTP sync
    // to the wall clock.
    let xs: Vec<u64> = camera(500 * S, 3)
        .chain(camera(3 * S, 3))
        .chain(camera(1_700_000_000 * S, 3))
        .collect();
    for x in xs {
        pts.push(
            p.next(FrameClock {
                x_timestamp: Some(x),
                ..Default::default()
            })
            .0,
        );
    }
    // Each jump continues one interval after the last frame.
    let expected: Vec<u64> = (0..9).map(|k| k * 80 * MS).collect();
    assert_eq!(pts, expected);
    assert_eq!(p.xclock.jumps, 2);
    // A real gap of a few seconds is kept.
    let mut p = Policy::new(Mode::XTimestamp, 30, 1);
    let a = p.next(FrameClock {
        x_timestamp: Some(100 * S),
        ..Default::default()
    });
    let b = p.next(FrameClock {
        x_timestamp: Some(104 * S),
        ..Default::default()
    });
    assert_eq!(b.0 - a.0, 4 * S);
}

#[test]
fn x_clock_live_follows_arrival_when_the_camera_clock_drifts() {
    // The camera clock runs 1 % slow: 80 ms of frames take 80.8 ms of ours.
    let mut p = Policy::new(Mode::XTimestamp, 30, 1);
    let mut worst_late = 0i128;
    let mut worst_early = 0i128;
    for k in 0..10_000u64 {
        let x = 1_000 * S + k * 80 * MS;
        let arrival = 2 * S + k * 80_800_000 + (k % 7) * 3 * MS; // plus jitter
        let (pts, _) = p.next(FrameClock {
            x_timestamp: Some(x),
            arrival: Some(arrival),
            ..Default::default()
        });
        let late = i128::from(arrival) - i128::from(pts);
        worst_late = worst_late.max(late);
        if k > 1000 {
            worst_early = worst_early.max(-late);
        }
    }
    // Never stamped before it arrived, and never far after (jitter only).
    assert!(worst_late <= 0, "late by {worst_late}");
    assert!(worst_early < 40 * MS as i128, "early by {worst_early}");
    // A camera clock 1 % fast.
    let mut p = Policy::new(Mode::XTimestamp, 30, 1);
    let mut last = 0;
    for k in 0..10_000u64 {
        let x = k * 80 * MS;
        let arrival = k * 79_200_000;
        let (pts, _) = p.next(FrameClock {
            x_timestamp: Some(x),
            arrival: Some(arrival),
            ..Default::default()
        });
        assert!(pts >= arrival && pts > last || k == 0);
        last = pts;
    }
    // After 13 minutes the PTS are not 8 s ahead of arrival.
    assert!(last - 9_999 * 79_200_000 < S);
}

#[test]
fn x_clock_live_reanchors_when_spacing_and_arrival_disagree() {
    let mut p = Policy::new(Mode::XTimestamp, 30, 1);
    let f = |x, a| FrameClock {
        x_timestamp: Some(x),
        arrival: Some(a),
        ..Default::default()
    };
    assert_eq!(p.next(f(10 * S, S)).0, S);
    // The camera clock stepped 5 s (under the file threshold) in 80 ms.
    let (pts, _) = p.next(f(15 * S + 80 * MS, S + 80 * MS));
    assert_eq!(pts, S + 80 * MS);
    assert_eq!(p.xclock.jumps, 1);
}

#[test]
fn modes_choose_their_source() {
    let clock = FrameClock {
        upstream: Some(7 * S),
        arrival: Some(9 * S),
        x_timestamp: Some(100 * S),
        paced: None,
    };
    assert_eq!(Policy::new(Mode::Auto, 15, 1).next(clock).0, 7 * S);
    assert_eq!(Policy::new(Mode::XTimestamp, 15, 1).next(clock).0, 9 * S);
    assert_eq!(Policy::new(Mode::Framerate, 15, 1).next(clock).0, 0);
    let no_upstream = FrameClock {
        upstream: None,
        ..clock
    };
    assert_eq!(Policy::new(Mode::Auto, 15, 1).next(no_upstream).0, 9 * S);
    let arrival_only = FrameClock {
        arrival: Some(3 * S),
        ..Default::default()
    };
    assert_eq!(
        Policy::new(Mode::XTimestamp, 15, 1).next(arrival_only).0,
        3 * S
    );
}

#[test]
fn rate_estimate_ignores_bursts_and_waits() {
    let mut r = RateEstimate::default();
    // 15 fps, then a 2 s wait, then a burst of 30 frames at once.
    let mut t = 0;
    for _ in 0..10 {
        r.observe(t);
        t += 66_666_666;
    }
    t += 2 * S;
    for _ in 0..30 {
        r.observe(t);
    }
    let i = r.interval.unwrap();
    assert!(i.abs_diff(66_666_666) < 1_000_000, "{i}");
    // A measured interval (network byte rate) wins from then on.
    r.measured(80 * MS);
    r.observe(t + MS * 33);
    assert_eq!(r.interval, Some((i * 7 + 80 * MS) / 8));
}

/// An HTTP camera in a non-live pipeline: frames released in a burst by a
/// buffering queue are spread at the camera's rate, never before they
/// arrived.
#[test]
fn paced_frames_follow_the_camera_rate() {
    let mut p = Policy::new(Mode::Auto, 30, 1);
    let mut pts = Vec::new();
    let mut mono = 0;
    // Four frames arrive at 12.5 fps while prerolling (no running time).
    for _ in 0..4 {
        pts.push(
            p.next(FrameClock {
                paced: Some(mono),
                ..Default::default()
            })
            .0,
        );
        mono += 80 * MS;
    }
    // Then twenty in one burst, playing, at running time 0.2 s.
    for _ in 0..20 {
        let (t, _) = p.next(FrameClock {
            paced: Some(mono),
            arrival: Some(200 * MS),
            ..Default::default()
        });
        pts.push(t);
    }
    let steps: Vec<u64> = pts.windows(2).map(|w| w[1] - w[0]).collect();
    // Nominal 30 fps until three intervals are known, then 80 ms.
    assert_eq!(&steps[..2], &[33_333_333, 33_333_333]);
    assert!(steps[2..].iter().all(|&s| s == 80 * MS), "{steps:?}");
    // A frame arriving after its paced time takes its arrival.
    let late = p.next(FrameClock {
        paced: Some(mono),
        arrival: Some(10 * S),
        ..Default::default()
    });
    assert_eq!(late.0, 10 * S);
}
