//! redb's errors as storage failures: each keeps redb's error as its source.

use crate::journal::StorageFailure;

macro_rules! from_redb {
    ($($error:ty),*) => {
        $(impl From<$error> for StorageFailure {
            fn from(e: $error) -> Self {
                StorageFailure::Database(Box::new(redb::Error::from(e)))
            }
        })*
    };
}
from_redb!(
    redb::StorageError,
    redb::TableError,
    redb::TransactionError,
    redb::CommitError,
    redb::SetDurabilityError,
    redb::DatabaseError
);

impl From<redb::Error> for StorageFailure {
    fn from(e: redb::Error) -> Self {
        StorageFailure::Database(Box::new(e))
    }
}
