"""Offline reverse geocoding with the GeoNames cities1000 data that the `reverse-geocode` package ships
(GeoNames, CC BY 4.0). Nothing is downloaded; the data loads once per process (~1 s)."""

import math
from dataclasses import dataclass

import reverse_geocode

# Immich's reverseGeocodeMaxDistance: farther than this from any known place, no place is stored. (Immich
# then falls back to country borders, which this package does not ship.)
MAX_DISTANCE_KM = 25.0
EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True)
class Place:
    city: str
    state: str
    country: str
    country_code: str
    distance_km: float


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def lookup(latitude: float, longitude: float) -> Place | None:
    """The nearest GeoNames place with at least 1,000 inhabitants, or None if it is too far away."""
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    found = reverse_geocode.get((latitude, longitude))
    distance = distance_km(latitude, longitude, found["latitude"], found["longitude"])
    if distance > MAX_DISTANCE_KM:
        return None
    return Place(city=found.get("city", ""), state=found.get("state", ""), country=found.get("country", ""),
                 country_code=found.get("country_code", ""), distance_km=distance)
