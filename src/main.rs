use clap::Parser;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    match iscriviti::cli::run(iscriviti::cli::Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<iscriviti::cli::Incomplete>() {
            Some(incomplete) => {
                eprintln!("{incomplete}");
                std::process::ExitCode::from(2)
            }
            None => {
                eprintln!("error: {e:#}");
                std::process::ExitCode::FAILURE
            }
        },
    }
}
