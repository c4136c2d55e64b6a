//! The dashboard: subscribers per list and status, a chart of the last 30 days, the recent
//! digests with their numbers and the sends to come.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::access::Staff;
use super::page::render;
use super::AdminError;
use crate::digests;
use crate::routes::AppState;
use crate::subscriptions::{self, DayCounts};

const DAYS: u32 = 30;

/// `GET /admin`.
pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    Staff(session): Staff,
) -> Result<HttpResponse, AdminError> {
    let d = subscriptions::dashboard(&state, DAYS).await?;
    let totals = d.lists.iter().fold([0i64; 3], |t, l| {
        [t[0] + l.pending, t[1] + l.confirmed, t[2] + l.unsubscribed]
    });
    let recent = digests::history(&state.pool, None, None, 5).await?;
    let scheduled = digests::scheduled(&state.pool).await?;
    let cadences = digests::schedules(&state.pool).await?;
    let ctx = minijinja::context! {
        recent,
        scheduled,
        cadences,
        lists => &d.lists,
        totals,
        chart => Chart::of(&d.days),
        days => &d.days,
    };
    render(&req, &session, "dashboard", ctx)
}

/// The chart's geometry, drawn as SVG by the template: a pair of bars per day.
#[derive(Serialize)]
struct Chart {
    width: u32,
    height: u32,
    /// Where the x axis ends.
    axis_end: u32,
    /// The highest count, the top of the scale.
    max: i64,
    bars: Vec<Bar>,
    /// Day labels under the axis, every few days.
    labels: Vec<(u32, String)>,
}

#[derive(Serialize)]
struct Bar {
    x: u32,
    signups_y: u32,
    signups_h: u32,
    left_x: u32,
    left_y: u32,
    left_h: u32,
    title: String,
}

impl Chart {
    const SLOT: u32 = 20;
    const PLOT: u32 = 160;
    const TOP: u32 = 10;

    fn of(days: &[DayCounts]) -> Self {
        let max = days
            .iter()
            .map(|d| d.signups.max(d.unsubscribes))
            .max()
            .unwrap_or(0)
            .max(1);
        let scale = |n: i64| (n.max(0) as f64 / max as f64 * f64::from(Self::PLOT)).round() as u32;
        let base = Self::TOP + Self::PLOT;
        let bars = days
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let x = 30 + i as u32 * Self::SLOT;
                let (s, l) = (scale(d.signups), scale(d.unsubscribes));
                Bar {
                    x,
                    signups_y: base - s,
                    signups_h: s,
                    left_x: x + 8,
                    left_y: base - l,
                    left_h: l,
                    title: format!("{}: +{} −{}", d.day, d.signups, d.unsubscribes),
                }
            })
            .collect();
        let labels = days
            .iter()
            .enumerate()
            // Weekly, counted back from today, so today is labelled and no two labels touch.
            .filter(|(i, _)| (days.len() - 1 - i) % 7 == 0)
            .map(|(i, d)| {
                (
                    30 + i as u32 * Self::SLOT,
                    d.day.format("%d/%m").to_string(),
                )
            })
            .collect();
        let width = 30 + days.len() as u32 * Self::SLOT + 10;
        Chart {
            width,
            axis_end: width - 4,
            height: base + 24,
            max,
            bars,
            labels,
        }
    }
}
