"""PIDF-LO (RFC 4119, with the GML shapes of RFC 5491): a location as EIDO carries it by value.

Pure: a point and an H3 cell in, the XML text out.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Final

import h3

__all__ = ["pidf_lo"]

PIDF_NS: Final = "urn:ietf:params:xml:ns:pidf"
GP_NS: Final = "urn:ietf:params:xml:ns:pidf:geopriv10"
GML_NS: Final = "http://www.opengis.net/gml"
WGS84_2D: Final = "urn:ogc:def:crs:EPSG::4326"
ET.register_namespace("gp", GP_NS)  # the conventional prefixes, rather than ns0, ns1
ET.register_namespace("gml", GML_NS)


def _pidf_tuple(root: ET.Element, tuple_id: str, method: str, at: str) -> ET.Element:
    """A PIDF tuple; returns its (empty) gp:location-info."""
    tup = ET.SubElement(root, "tuple", {"id": tuple_id})
    geopriv = ET.SubElement(ET.SubElement(tup, "status"), f"{{{GP_NS}}}geopriv")
    info = ET.SubElement(geopriv, f"{{{GP_NS}}}location-info")
    ET.SubElement(geopriv, f"{{{GP_NS}}}usage-rules")
    ET.SubElement(geopriv, f"{{{GP_NS}}}method").text = method
    ET.SubElement(tup, "timestamp").text = at
    return info


def pidf_lo(entity: str, lat: float, lon: float, cell: str, at: str) -> str:
    """A PIDF-LO (RFC 4119, RFC 5491) with two tuples: the point, and the H3 cell's hexagon."""
    # PIDF is the default namespace, declared by hand: ElementTree's
    # `default_namespace` refuses unqualified attributes (entity, id, srsName).
    root = ET.Element("presence", {"xmlns": PIDF_NS, "entity": entity})
    point = ET.SubElement(
        _pidf_tuple(root, "point", "GPS", at), f"{{{GML_NS}}}Point", {"srsName": WGS84_2D}
    )
    ET.SubElement(point, f"{{{GML_NS}}}pos").text = f"{lat} {lon}"
    boundary = [*h3.cell_to_boundary(cell)]
    polygon = ET.SubElement(
        _pidf_tuple(root, "cell", "H3", at), f"{{{GML_NS}}}Polygon", {"srsName": WGS84_2D}
    )
    ring = ET.SubElement(ET.SubElement(polygon, f"{{{GML_NS}}}exterior"), f"{{{GML_NS}}}LinearRing")
    ET.SubElement(ring, f"{{{GML_NS}}}posList").text = " ".join(
        f"{round(a, 6)} {round(o, 6)}" for a, o in [*boundary, boundary[0]]
    )
    text: str = ET.tostring(root, encoding="unicode")
    return text
