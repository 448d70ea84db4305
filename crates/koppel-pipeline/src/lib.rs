//! koppel-pipeline: staged pipeline runner (DESIGN §2). Under construction (issue #7).
