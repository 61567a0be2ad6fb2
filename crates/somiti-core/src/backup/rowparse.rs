//! The fast way to read an NDJSON row: straight from the JSON text into the table's
//! values (no map, no intermediate JSON values), checking names, types and nulls on the
//! way. Any problem gives `None`; `schema::parse_json_line` then explains it.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use super::schema::{Col, ColType, TableSpec, Val, Values, parse_date, parse_instant};

pub(crate) fn parse(spec: &TableSpec, line: &str) -> Option<Values> {
    if spec.cols.len() > 64 {
        return None;
    }
    let mut de = serde_json::Deserializer::from_str(line);
    let v = Row(spec).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(v)
}

struct Row<'a>(&'a TableSpec);

impl<'de> DeserializeSeed<'de> for Row<'_> {
    type Value = Values;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Values, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Row<'_> {
    type Value = Values;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a row of {}", self.0.name)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Values, A::Error> {
        let n = self.0.cols.len();
        let mut out = vec![Val::Null; n];
        let mut seen: u64 = 0;
        while let Some(i) = m.next_key_seed(Key(self.0))? {
            if seen & (1 << i) != 0 {
                return Err(de::Error::custom("column twice"));
            }
            seen |= 1 << i;
            out[i] = m.next_value_seed(Value(&self.0.cols[i]))?;
        }
        let all = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
        if seen != all {
            return Err(de::Error::custom("column missing"));
        }
        Ok(out)
    }
}

struct Key<'a>(&'a TableSpec);

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = usize;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a column name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<usize, E> {
        self.0
            .index_of(v)
            .ok_or_else(|| E::custom("unknown column"))
    }
}

struct Value<'a>(&'a Col);

impl<'de> DeserializeSeed<'de> for Value<'_> {
    type Value = Val;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Val, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Value<'_> {
    type Value = Val;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a value for {}", self.0.name)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Val, E> {
        match self.0.ty {
            ColType::Int => Ok(Val::Int(v)),
            _ => Err(E::custom("type")),
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Val, E> {
        match (self.0.ty, i64::try_from(v)) {
            (ColType::Int, Ok(i)) => Ok(Val::Int(i)),
            _ => Err(E::custom("type")),
        }
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Val, E> {
        match self.0.ty {
            ColType::Bool => Ok(Val::Bool(v)),
            _ => Err(E::custom("type")),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Val, E> {
        self.visit_string(v.to_owned())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Val, E> {
        let ok = match self.0.ty {
            ColType::Text => true,
            ColType::Date => parse_date(&v).is_some(),
            ColType::Instant => parse_instant(&v).is_some(),
            ColType::Int | ColType::Bool => false,
        };
        if ok {
            Ok(Val::Text(v))
        } else {
            Err(E::custom("type"))
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Val, E> {
        if self.0.nullable {
            Ok(Val::Null)
        } else {
            Err(E::custom("null"))
        }
    }

    fn visit_none<E: de::Error>(self) -> Result<Val, E> {
        self.visit_unit()
    }
}
