"""Static content for the demo MSP: names, taxonomy, knowledge articles and ticket wording.

Nothing here is random; `generate.py` draws from these lists with a seeded generator. Every
e-mail domain ends in `.example` (reserved, RFC 2606) so that a demo database wired to a real
mail server can never write to somebody's real company.
"""

from __future__ import annotations

from dataclasses import dataclass

MSP_NAME = "Northgate IT"
MSP_DOMAIN = "northgate-it.example"
MSP_TIMEZONE = "Europe/London"
DEMO_NOTE = "Demo client created by seed_demo."


@dataclass(frozen=True)
class ClientSeed:
    name: str
    prefix: str
    stem: str
    industry: str


CLIENTS: tuple[ClientSeed, ...] = (
    ClientSeed("Harbourside Dental Group", "HSD", "harbourside-dental", "healthcare"),
    ClientSeed("Pennine Logistics Ltd", "PNL", "pennine-logistics", "logistics"),
    ClientSeed("Ashcombe & Reid Solicitors", "ARS", "ashcombe-reid", "legal"),
    ClientSeed("Greenfield Academy Trust", "GAT", "greenfield-academies", "education"),
    ClientSeed("Mercer Fabrication", "MFB", "mercer-fab", "manufacturing"),
    ClientSeed("Brightwell Accountancy", "BWA", "brightwell-accounts", "finance"),
    ClientSeed("Oakhurst Care Homes", "OCH", "oakhurst-care", "care"),
    ClientSeed("Riverside Veterinary Practice", "RVP", "riverside-vets", "healthcare"),
    ClientSeed("Kestrel Architecture", "KAR", "kestrel-architects", "professional"),
    ClientSeed("Lumen Digital Agency", "LUM", "lumen-digital", "creative"),
    ClientSeed("Northbridge Estate Agents", "NEA", "northbridge-homes", "retail"),
    ClientSeed("Calder Valley Brewing Co", "CVB", "calder-brewing", "manufacturing"),
    ClientSeed("Thistle & Finch Interiors", "TFI", "thistle-finch", "retail"),
    ClientSeed("Albion Freight Forwarding", "AFF", "albion-freight", "logistics"),
    ClientSeed("Summit Physiotherapy", "SPH", "summit-physio", "healthcare"),
    ClientSeed("Westgate Property Management", "WPM", "westgate-pm", "professional"),
    ClientSeed("Marlow Insurance Brokers", "MIB", "marlow-brokers", "finance"),
    ClientSeed("Cedar Lane Pharmacy", "CLP", "cedarlane-pharmacy", "retail"),
    ClientSeed("Hollis Engineering Consultants", "HEC", "hollis-engineering", "professional"),
    ClientSeed("Bluebell Day Nurseries", "BDN", "bluebell-nurseries", "education"),
    ClientSeed("Fenwick Hotels", "FWH", "fenwick-hotels", "hospitality"),
    ClientSeed("Quayside Marine Services", "QMS", "quayside-marine", "logistics"),
    ClientSeed("Orchard Street Surgery", "OSS", "orchard-surgery", "healthcare"),
    ClientSeed("Vantage Recruitment", "VRC", "vantage-recruit", "professional"),
    ClientSeed("Stonebridge Charitable Trust", "SCT", "stonebridge-trust", "charity"),
    ClientSeed("Linden Wealth Partners", "LWP", "linden-wealth", "finance"),
    ClientSeed("Redwood Print & Sign", "RPS", "redwood-print", "manufacturing"),
    ClientSeed("Granite Peak Outdoor", "GPO", "granitepeak-outdoor", "retail"),
    ClientSeed("Meridian Translation Services", "MTS", "meridian-translate", "professional"),
    ClientSeed("Copperleaf Coffee Roasters", "CCR", "copperleaf-coffee", "hospitality"),
)

# (business days, start hour, start minute, end hour, end minute) by industry; care homes and
# hotels never close, shops open on Saturdays.
INDUSTRY_HOURS: dict[str, tuple[str, int, int, int, int]] = {
    "care": ("1234567", 7, 0, 19, 0),
    "hospitality": ("1234567", 7, 0, 20, 0),
    "retail": ("123456", 9, 0, 17, 30),
}
OFFICE_HOURS: tuple[tuple[int, int, int, int], ...] = (
    (8, 0, 18, 0),
    (9, 0, 17, 30),
    (8, 30, 17, 0),
    (7, 30, 16, 30),
)

# (IANA zone, weight, cities for sites, phone format with one {n} for three digits)
TIMEZONES: tuple[tuple[str, float, tuple[str, ...], str], ...] = (
    (
        "Europe/London",
        0.62,
        ("Manchester", "Leeds", "Bristol", "Birmingham", "Sheffield", "Reading", "York"),
        "+44 20 7946 0{n}",
    ),
    ("Europe/Dublin", 0.12, ("Dublin", "Cork", "Galway"), "+353 1 555 0{n}"),
    ("Europe/Amsterdam", 0.1, ("Amsterdam", "Utrecht", "Rotterdam"), "+31 20 555 0{n}"),
    ("Europe/Berlin", 0.08, ("Berlin", "Hamburg", "Munich"), "+49 30 5550 {n}"),
    ("America/New_York", 0.08, ("New York", "Brooklyn", "Jersey City"), "+1 212 555 0{n}"),
)
STREETS: tuple[str, ...] = (
    "High Street",
    "Station Road",
    "Church Lane",
    "Mill Road",
    "Victoria Street",
    "Park Avenue",
    "Kings Road",
    "Market Place",
    "Bridge Street",
    "Queen Street",
    "Harbour Way",
    "Canal Side",
)
EXTRA_SITE_NAMES: tuple[str, ...] = ("Warehouse", "Depot", "Studio", "Clinic", "Showroom")

FIRST_NAMES: tuple[str, ...] = (
    "Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Noah", "Mia", "Jack", "Ivy",
    "Leo", "Grace", "Arthur", "Freya", "Oscar", "Lily", "Charlie", "Sophie", "James", "Emily",
    "Thomas", "Ella", "William", "Poppy", "Henry", "Evie", "Alfie", "Chloe", "Joshua", "Ruby",
    "Mohammed", "Aisha", "Ahmed", "Zara", "Ravi", "Anika", "Arjun", "Leila", "Kwame", "Adaeze",
    "Tomasz", "Zofia", "Lukas", "Hanna", "Mateo", "Lucia", "Sean", "Niamh", "Cian", "Aoife",
    "Daniel", "Hannah", "Matthew", "Laura", "David", "Rachel", "Paul", "Helen", "Mark", "Claire",
    "Stephen", "Karen", "Andrew", "Nicola", "Gareth", "Sian", "Callum", "Eilidh", "Wei", "Mei",
    "Hiroshi", "Yuki", "Pieter", "Sanne", "Jonas", "Greta", "Marcus", "Tanya", "Ben", "Jessica",
)  # fmt: skip
LAST_NAMES: tuple[str, ...] = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
    "Thomas", "Clarke", "Jackson", "Wood", "Harris", "Edwards", "Turner", "Martin", "Cooper",
    "Hill", "Ward", "Hughes", "Moore", "Clark", "King", "Harrison", "Lewis", "Baker", "Lee",
    "Allen", "Morris", "Khan", "Ali", "Shah", "Begum", "Singh", "Kaur", "Okafor", "Mensah",
    "Nowak", "Kowalski", "Murphy", "Kelly", "O'Brien", "Byrne", "Walsh", "Ryan", "MacDonald",
    "Campbell", "Stewart", "de Vries", "Jansen", "Bakker", "Muller", "Schmidt", "Fischer",
    "Chen", "Wang", "Nguyen", "Tanaka", "Garcia", "Rossi", "Fernandes", "Silva", "Price",
    "Bennett", "Griffiths", "Marshall", "Fox", "Hunt", "Palmer", "Mills",
)  # fmt: skip
LEAD_TITLES: tuple[str, ...] = ("Managing Director", "Chief Executive", "Director", "Partner")
ADMIN_TITLES: tuple[str, ...] = ("Office Manager", "IT Lead", "Operations Manager")
JOB_TITLES: tuple[tuple[str, float], ...] = (
    ("Administrator", 8),
    ("Accounts Assistant", 5),
    ("Receptionist", 4),
    ("Sales Executive", 6),
    ("Account Manager", 5),
    ("Project Manager", 4),
    ("Operations Coordinator", 4),
    ("HR Advisor", 2),
    ("Marketing Executive", 3),
    ("Customer Service Advisor", 6),
    ("Team Leader", 4),
    ("Analyst", 3),
    ("Engineer", 4),
    ("Designer", 2),
    ("Finance Manager", 2),
    ("Payroll Officer", 2),
    ("Consultant", 4),
    ("Assistant", 5),
    ("Apprentice", 2),
    ("Warehouse Supervisor", 1),
)

SKILLS: tuple[str, ...] = (
    "Active Directory",
    "Microsoft 365",
    "Networking",
    "Printers",
    "Backup",
    "Security",
    "Windows Server",
    "Windows Desktop",
    "macOS",
    "Hardware",
    "Onboarding",
)


@dataclass(frozen=True)
class QueueSeed:
    slug: str
    name: str
    description: str


L1 = "service-desk-l1"
L2 = "escalations-l2"
PROJECTS = "projects"
NOC = "alerts-noc"
ONBOARDING = "onboarding"
QUEUES: tuple[QueueSeed, ...] = (
    QueueSeed(L1, "Service Desk L1", "First line: every new request lands here."),
    QueueSeed(L2, "Escalations L2", "Second line: servers, networks and security."),
    QueueSeed(PROJECTS, "Projects", "Scheduled work: replacements, rollouts, migrations."),
    QueueSeed(NOC, "Alerts/NOC", "Monitoring and backup alerts from the RMM."),
    QueueSeed(ONBOARDING, "Onboarding", "Starters and leavers."),
)


@dataclass(frozen=True)
class PersonSeed:
    username: str
    first_name: str
    last_name: str


TECHNICIANS: tuple[PersonSeed, ...] = (
    PersonSeed("sam", "Sam", "Okafor"),
    PersonSeed("priya", "Priya", "Shah"),
    PersonSeed("tom", "Tom", "Walsh"),
    PersonSeed("aisha", "Aisha", "Rahman"),
    PersonSeed("dan", "Dan", "Kowalski"),
    PersonSeed("chloe", "Chloe", "Martin"),
    PersonSeed("ben", "Ben", "Carter"),
    PersonSeed("fatima", "Fatima", "Noor"),
    PersonSeed("luke", "Luke", "Harris"),
    PersonSeed("mei", "Mei", "Chen"),
    PersonSeed("owen", "Owen", "Price"),
    PersonSeed("ruth", "Ruth", "Adeyemi"),
)
MANAGER = PersonSeed("manager", "Morgan", "Ellis")
OWNER = PersonSeed("owner", "Jordan", "Hale")

APPS: tuple[str, ...] = (
    "Adobe Acrobat Pro",
    "Microsoft Teams",
    "Zoom",
    "Sage 50",
    "Xero",
    "AutoCAD LT",
    "Visio",
    "7-Zip",
    "Google Chrome",
    "Power BI Desktop",
    "Slack",
    "Notepad++",
)
SERVICES: tuple[str, ...] = ("SharePoint", "OneDrive", "Teams", "Outlook", "the intranet")
GROUPS: tuple[str, ...] = (
    "All Staff",
    "Finance",
    "Sales Team",
    "Operations",
    "Management",
    "Reception",
    "HR Confidential",
)
BACKUP_JOBS: tuple[str, ...] = ("Nightly servers", "File shares", "M365 mailboxes", "SQL")


@dataclass(frozen=True)
class TypeSpec:
    """A ticket type with the shape of its work: volume, urgency, effort and elapsed time."""

    slug: str
    name: str
    description: str
    quick_win: bool
    weight: float
    priorities: tuple[float, float, float, float]
    skill: str
    handling_minutes: float
    resolve_minutes: float
    subtypes: tuple[tuple[str, tuple[str, ...]], ...]
    summaries: tuple[str, ...]
    descriptions: tuple[str, ...]
    resolutions: tuple[str, ...]
    queue: str = L1
    escalation_queue: str = L2
    rule_routed: bool = False
    from_monitoring: bool = False
    reassign: float = 0.08
    wait_customer: float = 0.15
    stall: float = 0.0
    stall_minutes: float = 2880
    reopen: float = 0.04
    asset_kinds: tuple[str, ...] = ()


TYPES: tuple[TypeSpec, ...] = (
    TypeSpec(
        slug="password-reset",
        name="Password reset",
        description="A user cannot sign in because the password is forgotten or expired.",
        quick_win=True,
        weight=13,
        priorities=(0, 0.08, 0.62, 0.30),
        skill="Active Directory",
        handling_minutes=12,
        resolve_minutes=25,
        reassign=0.06,
        wait_customer=0.06,
        reopen=0.02,
        subtypes=(
            ("Active Directory", ("Forgotten password", "Expired password")),
            ("Microsoft 365", ("Cloud-only account", "Self-service reset failed")),
            ("Line-of-business app", ("Sage", "Xero", "Practice system")),
        ),
        summaries=(
            "Password reset for {first} {last}",
            "Forgotten password - {first}",
            "{first} cannot log in, password expired",
            "Please reset my password",
            "Password expired while working from home",
        ),
        descriptions=(
            "Hi, I've forgotten my password and can't get into my laptop. Can you reset it "
            "please? Thanks, {first}",
            "My password expired this morning and the change screen keeps rejecting new "
            "ones. I'm stuck at the login screen on {hostname}.",
            "Could you reset {other_first}'s password? They are back from leave today and locked "
            "out of everything.",
        ),
        resolutions=(
            "Reset the password after verifying identity by phone; user signed in fine.",
            "Issued a temporary password and walked the user through changing it.",
            "Password reset and synced to Microsoft 365; confirmed sign-in on {hostname}.",
        ),
    ),
    TypeSpec(
        slug="account-unlock",
        name="Account unlock",
        description="An account is locked out after too many failed sign-ins.",
        quick_win=True,
        weight=7,
        priorities=(0, 0.12, 0.63, 0.25),
        skill="Active Directory",
        handling_minutes=10,
        resolve_minutes=15,
        reassign=0.05,
        wait_customer=0.04,
        reopen=0.03,
        subtypes=(
            ("Active Directory", ("Locked after failed attempts", "Repeated lockouts")),
            ("Microsoft 365", ("Sign-in blocked", "Risky sign-in block")),
        ),
        summaries=(
            "Account locked out - {first} {last}",
            "{first} locked out again",
            "Locked out of my account",
            "Cannot sign in, account locked",
        ),
        descriptions=(
            "I'm locked out of my account after typing my password wrong a few times. Can "
            "you unlock it? {first}",
            "{other_first} keeps getting locked out every morning, probably an old password saved "
            "on a phone.",
        ),
        resolutions=(
            "Unlocked the account; lockout source was an old password saved on the phone.",
            "Account unlocked and the user confirmed access.",
            "Unlocked, cleared cached credentials on {hostname}, no further lockouts.",
        ),
    ),
    TypeSpec(
        slug="mfa-reenrolment",
        name="MFA re-enrolment",
        description="A user needs multi-factor authentication set up again (new phone, lost key).",
        quick_win=True,
        weight=5,
        priorities=(0, 0.08, 0.62, 0.30),
        skill="Microsoft 365",
        handling_minutes=18,
        resolve_minutes=60,
        reassign=0.07,
        wait_customer=0.15,
        reopen=0.03,
        asset_kinds=("mobile",),
        subtypes=(
            ("Authenticator app", ("New phone", "App reinstalled", "Notifications not arriving")),
            ("Security key", ("Lost key", "New key")),
            ("Temporary Access Pass", ("Issue pass",)),
        ),
        summaries=(
            "New phone - need MFA set up again",
            "MFA not working for {first}",
            "Authenticator app lost after phone upgrade",
            "Can't approve sign-in requests",
        ),
        descriptions=(
            "I got a new phone and the Authenticator app doesn't have my work account any more. "
            "I can't sign in to {service}.",
            "{other_first} lost their phone over the weekend and needs MFA reset so they can work.",
        ),
        resolutions=(
            "Issued a Temporary Access Pass and re-registered Authenticator on the new phone.",
            "Removed old MFA methods and the user re-enrolled successfully.",
        ),
    ),
    TypeSpec(
        slug="group-change",
        name="Distribution list / group change",
        description="Add or remove people from distribution lists, shared mailboxes or groups.",
        quick_win=True,
        weight=5,
        priorities=(0, 0.02, 0.38, 0.60),
        skill="Microsoft 365",
        handling_minutes=15,
        resolve_minutes=180,
        reassign=0.06,
        wait_customer=0.12,
        reopen=0.02,
        subtypes=(
            ("Distribution list", ("Add member", "Remove member", "New list")),
            ("Shared mailbox", ("Grant access", "Remove access")),
            ("Security group", ("File share access", "Application access")),
        ),
        summaries=(
            "Add {other_first} {other_last} to the {group} distribution list",
            "Remove {other_first} {other_last} from {group}",
            "Access to the {group} shared mailbox",
            "New starter needs adding to {group}",
        ),
        descriptions=(
            "Please add {other_first} {other_last} to the {group} list so they get the team "
            "e-mails.",
            "Can {other_first} have access to the {group} shared mailbox and folder? Approved by "
            "their manager.",
        ),
        resolutions=(
            "Membership updated in Microsoft 365; change confirmed with the requester.",
            "Granted access to the {group} mailbox; it appears in Outlook after a restart.",
        ),
    ),
    TypeSpec(
        slug="vpn-wifi",
        name="VPN / Wi-Fi help",
        description="Remote access and wireless connection problems for a single user.",
        quick_win=True,
        weight=6,
        priorities=(0, 0.12, 0.63, 0.25),
        skill="Networking",
        handling_minutes=25,
        resolve_minutes=180,
        reassign=0.14,
        wait_customer=0.2,
        reopen=0.06,
        asset_kinds=("laptop",),
        subtypes=(
            ("VPN", ("Will not connect", "Connects but no access", "New VPN profile")),
            ("Wi-Fi", ("Office Wi-Fi", "Guest Wi-Fi voucher")),
        ),
        summaries=(
            "VPN won't connect from home",
            "{first} can't reach the file server over VPN",
            "Laptop not joining the office Wi-Fi",
            "Guest Wi-Fi code needed for visitors",
            "VPN keeps dropping on {hostname}",
        ),
        descriptions=(
            "The VPN says 'connecting' and then times out. Internet works fine at home. "
            "Laptop is {hostname}.",
            "I can connect to the VPN but the S: drive and {service} won't open.",
        ),
        resolutions=(
            "Reinstalled the VPN client and re-imported the profile; connection stable.",
            "Renewed the Wi-Fi certificate on {hostname}; joins the office network again.",
            "Home router was blocking the VPN port; user switched to the SSL profile.",
        ),
    ),
    TypeSpec(
        slug="software-install",
        name="Software install",
        description="Install or update an approved application for a user.",
        quick_win=True,
        weight=8,
        priorities=(0, 0.03, 0.42, 0.55),
        skill="Windows Desktop",
        handling_minutes=30,
        resolve_minutes=360,
        reassign=0.1,
        wait_customer=0.15,
        stall=0.05,
        reopen=0.04,
        asset_kinds=("laptop", "workstation"),
        subtypes=(
            ("Approved catalogue", ("Company Portal install", "Update", "Reinstall")),
            ("Licensed software", ("Adobe", "AutoCAD", "Sage")),
            ("Browser and plug-ins", ("Extension", "Default browser")),
        ),
        summaries=(
            "Please install {app} on {hostname}",
            "{app} needed for {first}",
            "{app} keeps crashing, reinstall please",
            "Update {app} to the latest version",
        ),
        descriptions=(
            "Could you install {app} on my computer ({hostname})? My manager has approved it.",
            "{app} crashes on start-up since last week. Could someone reinstall it?",
        ),
        resolutions=(
            "Installed {app} remotely via the RMM and confirmed it opens.",
            "Deployed {app} from Company Portal and assigned the licence.",
            "Repaired the {app} installation; crash no longer reproduces.",
        ),
    ),
    TypeSpec(
        slug="hardware-fault",
        name="Hardware fault",
        description="A device is broken or failing: laptops, desktops, docks, screens, phones.",
        quick_win=False,
        weight=8,
        priorities=(0, 0.12, 0.63, 0.25),
        skill="Hardware",
        handling_minutes=90,
        resolve_minutes=2880,
        escalation_queue=PROJECTS,
        reassign=0.25,
        wait_customer=0.2,
        stall=0.35,
        stall_minutes=4320,
        reopen=0.06,
        asset_kinds=("laptop", "workstation", "mobile"),
        subtypes=(
            ("Laptop", ("Will not power on", "Battery", "Keyboard", "Screen")),
            ("Desktop", ("No display", "Noisy fan", "Blue screen")),
            ("Peripherals", ("Dock", "Monitor", "Headset")),
            ("Mobile", ("Cracked screen", "Will not charge")),
        ),
        summaries=(
            "{hostname} won't turn on",
            "Laptop battery dies within an hour",
            "Blue screen on {hostname}",
            "Docking station not detecting monitors",
            "Cracked phone screen - {first}",
        ),
        descriptions=(
            "My laptop {hostname} won't power on at all, no lights. I've tried another charger.",
            "Second monitor flickers and then goes black several times a day.",
            "{hostname} keeps crashing with a blue screen, usually when I open Outlook.",
        ),
        resolutions=(
            "Warranty engineer replaced the motherboard; {hostname} back in service.",
            "Replaced the dock with a spare; both monitors detected.",
            "Updated drivers and firmware on {hostname}; no crashes since.",
            "Device replaced from stock and data restored from OneDrive.",
        ),
    ),
    TypeSpec(
        slug="printing",
        name="Printing",
        description="Printers, scanners and print queues.",
        quick_win=False,
        weight=7,
        priorities=(0, 0.08, 0.62, 0.30),
        skill="Printers",
        handling_minutes=35,
        resolve_minutes=300,
        reassign=0.12,
        wait_customer=0.15,
        stall=0.05,
        reopen=0.08,
        asset_kinds=("printer",),
        subtypes=(
            ("Network printer", ("Offline", "Stuck queue", "Add printer")),
            ("Scanning", ("Scan to e-mail", "Scan to folder")),
            ("Consumables", ("Toner", "Paper jam")),
        ),
        summaries=(
            "Printer {hostname} offline",
            "Print jobs stuck in the queue",
            "Scan to e-mail stopped working",
            "Can't add the {site} printer",
            "Printer says paper jam but there is none",
        ),
        descriptions=(
            "Nobody at {site} can print; the printer shows offline on every PC.",
            "Scanning to e-mail fails with an authentication error since this morning.",
        ),
        resolutions=(
            "Cleared the spooler and restarted the printer; queue is printing again.",
            "Updated the scan-to-e-mail SMTP credentials on {hostname}.",
            "Reinstalled the print driver and mapped the printer for the user.",
        ),
    ),
    TypeSpec(
        slug="email-outlook",
        name="E-mail / Outlook",
        description="Mailbox, Outlook client, calendar and mail delivery problems.",
        quick_win=False,
        weight=9,
        priorities=(0, 0.12, 0.63, 0.25),
        skill="Microsoft 365",
        handling_minutes=30,
        resolve_minutes=240,
        reassign=0.1,
        wait_customer=0.2,
        reopen=0.06,
        subtypes=(
            ("Outlook client", ("Crashing", "Search broken", "Profile rebuild")),
            ("Mailbox", ("Full mailbox", "Recover deleted mail", "Out of office")),
            ("Mail flow", ("Not receiving", "Spam filtering", "Bounce-backs")),
            ("Calendar", ("Delegate access", "Room booking")),
        ),
        summaries=(
            "Outlook keeps freezing",
            "Not receiving e-mails from a supplier",
            "Mailbox full - {first} {last}",
            "Outlook search returns nothing",
            "Calendar invites going to the wrong person",
            "Set out of office for {first}",
        ),
        descriptions=(
            "Outlook freezes for a minute every time I open an attachment. {hostname}.",
            "Our supplier says their e-mails to us bounce. Can you check? Thanks, {first}",
            "I deleted a folder by mistake yesterday, can it be recovered?",
        ),
        resolutions=(
            "Rebuilt the Outlook profile; mailbox synced and freezes stopped.",
            "Released the messages from quarantine and allow-listed the sender.",
            "Enabled the archive mailbox and moved old items; mailbox no longer full.",
            "Recovered the folder from deleted items retention.",
        ),
    ),
    TypeSpec(
        slug="network-outage",
        name="Network outage",
        description="A site, link or core network device is down for several people.",
        quick_win=False,
        weight=2,
        priorities=(0.35, 0.45, 0.20, 0),
        skill="Networking",
        handling_minutes=150,
        resolve_minutes=180,
        queue=L2,
        reassign=0.3,
        wait_customer=0.05,
        stall=0.15,
        stall_minutes=1440,
        reopen=0.05,
        asset_kinds=("network",),
        subtypes=(
            ("Internet link", ("Leased line down", "Broadband down", "Slow link")),
            ("LAN", ("Switch failure", "Loop detected")),
            ("Wireless", ("Access point down", "Whole site Wi-Fi")),
        ),
        summaries=(
            "Whole office offline at {site}",
            "Internet down at {site}",
            "No network on the first floor",
            "Very slow internet across the office",
        ),
        descriptions=(
            "Nobody at {site} has internet or can reach the server. Phones are down too.",
            "The network is crawling for everyone since about nine. Calls are dropping.",
        ),
        resolutions=(
            "Carrier fault on the leased line fixed; failover tested.",
            "Replaced the failed switch {hostname} and restored the config from backup.",
            "Found a loop on a desk switch; removed it and enabled loop protection.",
        ),
    ),
    TypeSpec(
        slug="backup-failure",
        name="Backup failure",
        description="A backup job failed or a device has not been backed up recently.",
        quick_win=False,
        weight=3,
        priorities=(0, 0.35, 0.55, 0.10),
        skill="Backup",
        handling_minutes=60,
        resolve_minutes=480,
        queue=NOC,
        rule_routed=True,
        from_monitoring=True,
        reassign=0.15,
        wait_customer=0,
        stall=0.1,
        stall_minutes=1440,
        reopen=0.05,
        asset_kinds=("server",),
        subtypes=(
            ("Server backup", ("Job failed", "Job warning", "Missed schedule")),
            ("Cloud backup", ("Microsoft 365 backup", "Offsite copy")),
        ),
        summaries=(
            "[Backup] Job '{job}' failed on {hostname}",
            "[Backup] {hostname} not backed up for 48 hours",
            "[Backup] Offsite copy for '{job}' failed",
        ),
        descriptions=(
            "Backup job '{job}' finished with status Failed on {hostname}. Error: VSS snapshot "
            "timed out.",
            "No successful restore point for {hostname} in the last 48 hours.",
        ),
        resolutions=(
            "Restarted the VSS writers and re-ran the job successfully.",
            "Freed space on the repository and the retry completed.",
            "Offsite copy caught up after the bandwidth limit was raised.",
        ),
    ),
    TypeSpec(
        slug="monitoring-alert",
        name="Monitoring alert",
        description="An RMM alert about disk space, services, availability or performance.",
        quick_win=False,
        weight=10,
        priorities=(0, 0.15, 0.50, 0.35),
        skill="Windows Server",
        handling_minutes=20,
        resolve_minutes=90,
        queue=NOC,
        rule_routed=True,
        from_monitoring=True,
        reassign=0.1,
        wait_customer=0,
        stall=0.03,
        reopen=0.05,
        asset_kinds=("server", "network", "workstation"),
        subtypes=(
            ("Disk", ("Low disk space", "Disk health")),
            ("Availability", ("Device offline", "Pending reboot")),
            ("Services", ("Service stopped", "Certificate expiring")),
            ("Performance", ("High CPU", "High memory")),
        ),
        summaries=(
            "[RMM] Disk C: below 10% free on {hostname}",
            "[RMM] {hostname} offline for 15 minutes",
            "[RMM] High CPU on {hostname}",
            "[RMM] Service 'Print Spooler' stopped on {hostname}",
            "[RMM] {hostname} pending reboot for 7 days",
            "[RMM] Certificate expiring in 14 days on {hostname}",
        ),
        descriptions=(
            "Alert raised by the RMM agent on {hostname}; threshold breached for 3 checks.",
            "Monitoring policy 'Servers - standard' triggered on {hostname}.",
        ),
        resolutions=(
            "Cleared temp files and old updates; disk back above threshold.",
            "Device was powered off by the user; alert cleared when it came back.",
            "Restarted the service and set recovery actions.",
            "Rebooted out of hours after the client approved.",
        ),
    ),
    TypeSpec(
        slug="new-user-onboarding",
        name="New user onboarding",
        description="Accounts, licences and equipment for a new starter.",
        quick_win=False,
        weight=3,
        priorities=(0, 0.05, 0.65, 0.30),
        skill="Onboarding",
        handling_minutes=180,
        resolve_minutes=4320,
        queue=ONBOARDING,
        escalation_queue=PROJECTS,
        rule_routed=True,
        reassign=0.1,
        wait_customer=0.3,
        stall=0.8,
        stall_minutes=10080,
        reopen=0.03,
        asset_kinds=("laptop",),
        subtypes=(
            ("Accounts", ("Directory account", "Microsoft 365 licence", "Line-of-business app")),
            ("Equipment", ("Laptop build", "Phone", "Peripherals")),
        ),
        summaries=(
            "New starter: {other_first} {other_last}, starting Monday",
            "Onboarding request - {other_first} {other_last}",
            "New user setup for {site}",
        ),
        descriptions=(
            "We have a new starter, {other_first} {other_last}, joining the {group} team on "
            "Monday. They need a laptop, e-mail and access to the shared drives.",
            "Please set up accounts for our new hire {other_first} {other_last}. Same access as "
            "their predecessor.",
        ),
        resolutions=(
            "Accounts created, licences assigned and laptop {hostname} delivered and tested.",
            "Starter set up; welcome pack sent with first sign-in instructions.",
        ),
    ),
    TypeSpec(
        slug="user-offboarding",
        name="User offboarding",
        description="Disable a leaver's access, keep their data and recover their equipment.",
        quick_win=False,
        weight=3,
        priorities=(0, 0.10, 0.70, 0.20),
        skill="Onboarding",
        handling_minutes=90,
        resolve_minutes=1440,
        queue=ONBOARDING,
        rule_routed=True,
        reassign=0.08,
        wait_customer=0.2,
        stall=0.3,
        stall_minutes=4320,
        reopen=0.02,
        subtypes=(
            ("Accounts", ("Disable sign-in", "Convert mailbox", "Forward e-mail")),
            ("Equipment", ("Collect laptop", "Wipe phone")),
        ),
        summaries=(
            "Leaver: {other_first} {other_last}, last day Friday",
            "Please disable {other_first} {other_last}'s account",
            "Offboarding request - {other_first} {other_last}",
        ),
        descriptions=(
            "{other_first} {other_last} leaves on Friday. Please disable their access at 5pm, "
            "forward their e-mail to their manager and arrange collection of their laptop.",
        ),
        resolutions=(
            "Account disabled, mailbox converted to shared and delegated to the manager.",
            "Access removed, devices wiped and returned to stock.",
        ),
    ),
    TypeSpec(
        slug="security-incident",
        name="Security incident",
        description="Phishing, compromised accounts, malware and suspicious activity.",
        quick_win=False,
        weight=1.5,
        priorities=(0.30, 0.50, 0.20, 0),
        skill="Security",
        handling_minutes=240,
        resolve_minutes=1440,
        queue=L2,
        reassign=0.3,
        wait_customer=0.2,
        stall=0.1,
        reopen=0.04,
        asset_kinds=("workstation", "laptop"),
        subtypes=(
            ("Phishing", ("Reported e-mail", "Clicked link")),
            ("Account compromise", ("Impossible travel", "Mailbox rule")),
            ("Malware", ("Endpoint detection", "Ransomware suspicion")),
        ),
        summaries=(
            "I clicked a link in a suspicious e-mail",
            "Possible compromised account - {first} {last}",
            "Antivirus alert on {hostname}",
            "Strange forwarding rule on my mailbox",
        ),
        descriptions=(
            "I clicked a link in an e-mail that looked like it was from {service} and entered "
            "my password. I think it was fake.",
            "Customers say they received odd invoices from {first}'s mailbox this morning.",
        ),
        resolutions=(
            "Reset credentials, revoked sessions, removed the rule and reviewed sign-in logs.",
            "Isolated {hostname}, scan clean after remediation; user briefed on phishing.",
        ),
    ),
    TypeSpec(
        slug="licence-request",
        name="Licence request",
        description="Buy, assign or change software licences.",
        quick_win=False,
        weight=4,
        priorities=(0, 0, 0.40, 0.60),
        skill="Microsoft 365",
        handling_minutes=20,
        resolve_minutes=1440,
        reassign=0.05,
        wait_customer=0.25,
        stall=0.3,
        stall_minutes=4320,
        reopen=0.01,
        subtypes=(
            ("Microsoft 365", ("New licence", "Upgrade plan", "Remove licence")),
            ("Third-party", ("Adobe", "AutoCAD", "Zoom")),
        ),
        summaries=(
            "Licence needed for {app}",
            "Upgrade {first} to Microsoft 365 Business Premium",
            "Spare licence for new starter?",
        ),
        descriptions=(
            "Could we get a licence for {app} for {first}? Happy to be invoiced.",
            "Please remove the licences for people who left last month.",
        ),
        resolutions=(
            "Licence purchased through the distributor and assigned.",
            "Reassigned a spare licence from a leaver.",
        ),
    ),
    TypeSpec(
        slug="other",
        name="Other",
        description="Anything that does not fit elsewhere yet.",
        quick_win=False,
        weight=5.5,
        priorities=(0, 0.05, 0.55, 0.40),
        skill="Windows Desktop",
        handling_minutes=40,
        resolve_minutes=480,
        escalation_queue=PROJECTS,
        reassign=0.12,
        wait_customer=0.2,
        stall=0.1,
        reopen=0.04,
        subtypes=(
            ("General question", ("How do I", "Advice")),
            ("Meeting room", ("Screen", "Conference phone")),
        ),
        summaries=(
            "Quick question about {service}",
            "Meeting room screen not working at {site}",
            "Can someone call me back?",
            "Advice on buying new laptops",
        ),
        descriptions=(
            "Hi, could someone give me a call when free? It's about {service}. {first}",
            "The TV in the meeting room won't show the laptop screen.",
        ),
        resolutions=(
            "Answered the question by phone and sent a how-to link.",
            "Replaced the HDMI cable in the meeting room.",
        ),
    ),
)

FIRST_REPLIES: tuple[str, ...] = (
    "Hi {first}, thanks for getting in touch. I'm looking at this now.",
    "Hi {first}, I've picked this up and will update you shortly.",
    "Thanks {first}, on it. I'll give you a call in a few minutes.",
)
ALERT_ACKS: tuple[str, ...] = (
    "Alert acknowledged; investigating on {hostname}.",
    "Acknowledged. Checking {hostname} now.",
)
QUESTIONS: tuple[str, ...] = (
    "Could you tell me when this started and whether anyone else is affected?",
    "Could you send a screenshot of the error, please?",
    "When would be a good time for me to connect remotely?",
    "Can you confirm your manager has approved this?",
)
REQUESTER_REPLIES: tuple[str, ...] = (
    "Thanks, I'm free now if you want to connect.",
    "Screenshot attached. It started yesterday afternoon.",
    "Yes, approved - see the forwarded e-mail.",
    "Just me as far as I know.",
)
REMINDERS: tuple[str, ...] = (
    "Just checking in: is this still a problem?",
    "Following up on my last message. We'll close this if we don't hear back.",
)
NO_RESPONSE: tuple[str, ...] = (
    "Closing as we haven't heard back. Reply to this e-mail to reopen.",
    "No reply after three reminders, so resolving. Get in touch any time.",
)
REOPEN_REPLIES: tuple[str, ...] = (
    "Sorry, this is happening again.",
    "It worked for a bit but it's broken again this morning.",
    "Still not fixed I'm afraid.",
)
NOTES: tuple[str, ...] = (
    "Checked the logs; nothing obvious yet.",
    "Called the user, no answer. Left a voicemail.",
    "Remote session: reproduced the problem.",
    "Tested with a second account to rule out the profile.",
    "Checked against the knowledge base article for this.",
    "Waiting for the change window agreed with the client.",
)
PICKED_UP_AGAIN: tuple[str, ...] = (
    "Picking this back up after the backlog cleared.",
    "Sorry for the delay on this one; looking at it today.",
)
HANDOVER_NOTES: tuple[str, ...] = (
    "Escalating: needs admin access I don't have.",
    "Handing over at the end of my shift.",
    "Reassigning to the engineer who looks after this client.",
    "Needs a site visit; passing to the field engineer.",
)
THIRD_PARTY_NOTES: tuple[str, ...] = (
    "Logged with the vendor; waiting for their engineer.",
    "Ordered the replacement part; waiting for delivery.",
    "Raised with the carrier; waiting for their update.",
)
SCHEDULED_NOTES: tuple[str, ...] = (
    "Scheduled with the client for their start date.",
    "Booked in for the next maintenance window.",
)


@dataclass(frozen=True)
class AgentPlaybookSeed:
    """How the AI agent resolves one quick-win type after the rollout, worded as the live
    playbooks (`automation.playbooks.catalogue`) and governance steps write the timeline."""

    type: str
    title: str
    action: str
    action_label: str
    approval_share: float
    started: str
    reply: str
    done: str


# The VPN / Wi-Fi playbook only sends guidance and waits on the requester, so it resolves
# nothing by itself: those tickets stay with the technicians in the demo.
AGENT_PLAYBOOKS: tuple[AgentPlaybookSeed, ...] = (
    AgentPlaybookSeed(
        type="password-reset",
        title="Password reset",
        action="reset_password",
        action_label="Reset a password",
        approval_share=0.4,
        started="the requester may ask for this account",
        reply=(
            "Hi {first}, the password has been reset: a one-time link to set a new one has gone "
            "to the account's owner, who will be asked to change it at the next sign-in."
        ),
        done="Password reset, verified in the directory, link sent to the owner.",
    ),
    AgentPlaybookSeed(
        type="account-unlock",
        title="Account unlock",
        action="unlock_account",
        action_label="Unlock an account",
        approval_share=0.1,
        started="the requester may ask for this account",
        reply="Hi {first}, the account is unlocked: it can sign in again now.",
        done="Account unlocked and verified in the directory; the requester was told.",
    ),
    AgentPlaybookSeed(
        type="mfa-reenrolment",
        title="MFA re-enrolment",
        action="reenrol_mfa",
        action_label="Re-enrol MFA",
        approval_share=0.4,
        started="the requester may ask for this account",
        reply=(
            "Hi {first}, the account's sign-in methods were reset and its sessions signed out "
            "everywhere. At the next sign-in it will ask for the authenticator app to be set up "
            "again."
        ),
        done="MFA methods removed and sessions revoked, verified in Entra ID.",
    ),
    AgentPlaybookSeed(
        type="group-change",
        title="Group or distribution-list change",
        action="change_group_membership",
        action_label="Change group membership",
        approval_share=0.4,
        started="the ticket names the {group} group and a contact on record",
        reply="Hi {first}, done: the {group} membership is changed as you asked.",
        done="Group membership changed and verified in the directory; the requester was told.",
    ),
    AgentPlaybookSeed(
        type="software-install",
        title="Software install",
        action="install_software",
        action_label="Install software",
        approval_share=0.4,
        started="{app} on {hostname}",
        reply="Hi {first}, {app} is installed on {hostname}: you will find it in the Start menu.",
        done="Installed through the RMM and verified in the device's software inventory.",
    ),
)
CSAT_COMMENTS: dict[int, tuple[str, ...]] = {
    1: ("Took far too long.", "Problem came back twice."),
    2: ("Slow to get a response.", "Had to chase for an update."),
    3: ("Fixed in the end.", "OK, but a bit slow."),
    4: ("Thanks, sorted.", "Good service."),
    5: ("Brilliant, thank you!", "Super quick, thanks.", "Really helpful as always."),
}


@dataclass(frozen=True)
class ArticleSeed:
    title: str
    types: tuple[str, ...]
    steps: tuple[str, ...]


ARTICLES: tuple[ArticleSeed, ...] = (
    ArticleSeed(
        "Reset a user's Active Directory password",
        ("password-reset",),
        (
            "Verify the caller: call back on the number in the contact record.",
            "In Active Directory Users and Computers, find the user and choose Reset Password.",
            "Tick 'User must change password at next logon' unless they are remote.",
            "Wait for Entra Connect to sync (up to 30 minutes) or run a delta sync.",
        ),
    ),
    ArticleSeed(
        "Self-service password reset: enrolment and use",
        ("password-reset",),
        (
            "Send the user to the SSPR registration page and have them add two methods.",
            "Show them the 'Can't access your account?' link on the sign-in page.",
            "Check writeback is enabled so the new password reaches Active Directory.",
        ),
    ),
    ArticleSeed(
        "Reset a Microsoft 365 cloud-only password",
        ("password-reset",),
        (
            "In the Microsoft 365 admin centre open Active users and select the user.",
            "Choose Reset password and send the temporary password by text, not e-mail.",
            "Ask the user to sign in at office.com and set a new password.",
        ),
    ),
    ArticleSeed(
        "Password expired while working remotely",
        ("password-reset", "vpn-wifi"),
        (
            "Reset the password and untick 'must change at next logon'.",
            "Have the user connect the VPN from the Windows sign-in screen.",
            "Lock and unlock the laptop so cached credentials update.",
        ),
    ),
    ArticleSeed(
        "Password policy: length, expiry and lockout thresholds",
        ("password-reset", "account-unlock"),
        (
            "Minimum length is 14 characters; passphrases are encouraged.",
            "Passwords do not expire when MFA is enforced.",
            "Accounts lock for 15 minutes after 10 failed attempts.",
        ),
    ),
    ArticleSeed(
        "Unlock an account and find the lockout source",
        ("account-unlock",),
        (
            "Unlock the account in Active Directory.",
            "Check event 4740 on the PDC emulator for the calling computer.",
            "Clear saved credentials on that device or phone mail profile.",
        ),
    ),
    ArticleSeed(
        "Repeated lockouts caused by saved credentials on phones",
        ("account-unlock",),
        (
            "Ask the user which phones and tablets have work e-mail set up.",
            "Remove and re-add the account on each device after the reset.",
            "Check Wi-Fi profiles that use domain credentials.",
        ),
    ),
    ArticleSeed(
        "Microsoft 365 sign-in blocked: unblock a user",
        ("account-unlock", "security-incident"),
        (
            "Check risky sign-ins in Entra ID before unblocking.",
            "If the sign-in looks genuine, confirm with the user and dismiss the risk.",
            "Unblock sign-in and revoke existing sessions.",
        ),
    ),
    ArticleSeed(
        "Re-register Microsoft Authenticator on a new phone",
        ("mfa-reenrolment",),
        (
            "Confirm identity by calling back on the known number.",
            "Delete the old Authenticator method under the user's authentication methods.",
            "Require re-register MFA and have the user sign in at aka.ms/mysecurityinfo.",
        ),
    ),
    ArticleSeed(
        "Issue a Temporary Access Pass for MFA re-enrolment",
        ("mfa-reenrolment",),
        (
            "In Entra ID, add a Temporary Access Pass valid for one hour, one use.",
            "Read it to the user over the phone; never send it by e-mail.",
            "The user signs in with the pass and registers Authenticator.",
        ),
    ),
    ArticleSeed(
        "MFA prompts not arriving",
        ("mfa-reenrolment",),
        (
            "Check the phone has notifications enabled for Authenticator.",
            "Make sure the phone clock is set automatically.",
            "Use the code in the app as a fallback while notifications are fixed.",
        ),
    ),
    ArticleSeed(
        "Replace a lost hardware security key",
        ("mfa-reenrolment",),
        (
            "Remove the lost key from the user's security info straight away.",
            "Issue a Temporary Access Pass so they can work today.",
            "Post a new key and have them register it on arrival.",
        ),
    ),
    ArticleSeed(
        "Add or remove members of a distribution list",
        ("group-change",),
        (
            "Check the request is from the list owner or the person's manager.",
            "In Exchange admin, open the group and edit Members.",
            "Tell the requester changes can take an hour to show in Outlook.",
        ),
    ),
    ArticleSeed(
        "Create a shared mailbox and grant access",
        ("group-change", "email-outlook"),
        (
            "Create the shared mailbox in Exchange admin; no licence is needed under 50 GB.",
            "Grant Full Access and Send As to the people approved.",
            "Outlook adds it automatically after a restart.",
        ),
    ),
    ArticleSeed(
        "Change security group membership for file share access",
        ("group-change",),
        (
            "Find the group that grants the share (never grant users directly).",
            "Add the user to the group with the manager's approval recorded.",
            "The user signs out and back in to pick up the new membership.",
        ),
    ),
    ArticleSeed(
        "Install and configure the VPN client",
        ("vpn-wifi",),
        (
            "Install the VPN client from Company Portal.",
            "Import the client's profile from the documentation vault.",
            "Test a connection and open a file on the file server.",
        ),
    ),
    ArticleSeed(
        "VPN connects but internal sites do not load",
        ("vpn-wifi",),
        (
            "Check the DNS servers handed out by the VPN.",
            "Flush the DNS cache and retry.",
            "Check the home network does not use the same subnet as the office.",
        ),
    ),
    ArticleSeed(
        "Join the office Wi-Fi with a company device",
        ("vpn-wifi",),
        (
            "Company devices get the Wi-Fi certificate from Intune.",
            "If the certificate is missing, sync the device in Company Portal.",
            "Forget and rejoin the network once the certificate arrives.",
        ),
    ),
    ArticleSeed(
        "Guest Wi-Fi: issue a voucher",
        ("vpn-wifi",),
        (
            "Open the wireless controller and go to Guest vouchers.",
            "Create a voucher valid for the length of the visit.",
            "Send the code to the requester, not the guest.",
        ),
    ),
    ArticleSeed(
        "Install approved software from Company Portal",
        ("software-install",),
        (
            "Check the application is in the approved catalogue.",
            "Ask the user to open Company Portal and choose Install.",
            "If it is missing, assign the app to the user in Intune.",
        ),
    ),
    ArticleSeed(
        "Request software that is not in the catalogue",
        ("software-install", "licence-request"),
        (
            "Get approval from the client's IT contact.",
            "Check licensing and security before packaging.",
            "Package and publish to Company Portal; note it in the client documentation.",
        ),
    ),
    ArticleSeed(
        "Install Adobe Acrobat Pro and assign a licence",
        ("software-install",),
        (
            "Assign the licence in the Adobe admin console.",
            "Deploy Acrobat from Company Portal.",
            "Have the user sign in to Acrobat with their work account.",
        ),
    ),
    ArticleSeed(
        "Fix a failed Microsoft 365 Apps installation",
        ("software-install", "email-outlook"),
        (
            "Run the Microsoft Support and Recovery Assistant.",
            "Remove old Office versions with the uninstall tool.",
            "Reinstall from the portal and activate.",
        ),
    ),
    ArticleSeed(
        "Laptop will not power on: first checks",
        ("hardware-fault",),
        (
            "Try a known-good charger and hold power for 30 seconds.",
            "Remove the dock and any USB devices.",
            "If still dead, log a warranty call with the serial number.",
        ),
    ),
    ArticleSeed(
        "Arrange a warranty repair with the vendor",
        ("hardware-fault",),
        (
            "Look up warranty status by serial number.",
            "Log the case with diagnostics attached.",
            "Book the engineer visit with the user and set the ticket to waiting on third party.",
        ),
    ),
    ArticleSeed(
        "Add a network printer by site",
        ("printing",),
        (
            "Printers are deployed by site through Intune.",
            "Check the user's device is in the right site group.",
            "For a one-off, add the printer by its IP from the site documentation.",
        ),
    ),
    ArticleSeed(
        "Clear a stuck print queue",
        ("printing",),
        (
            "Stop the Print Spooler service.",
            "Delete the files in the spool folder.",
            "Start the spooler and send a test page.",
        ),
    ),
    ArticleSeed(
        "Scan to e-mail stopped working",
        ("printing",),
        (
            "Check the SMTP relay credentials have not expired.",
            "Confirm the printer can reach the relay on port 587.",
            "Send a test scan and check the message trace.",
        ),
    ),
    ArticleSeed(
        "Rebuild an Outlook profile",
        ("email-outlook",),
        (
            "Close Outlook and open Mail in Control Panel.",
            "Add a new profile and set it as default.",
            "Open Outlook and let the mailbox sync before removing the old profile.",
        ),
    ),
    ArticleSeed(
        "Outlook search returns no results",
        ("email-outlook",),
        (
            "Check indexing status in Outlook search options.",
            "Rebuild the Windows search index.",
            "As a workaround, use Outlook on the web.",
        ),
    ),
    ArticleSeed(
        "Recover a deleted e-mail or folder",
        ("email-outlook",),
        (
            "Ask the user to check Deleted Items first.",
            "Use Recover items deleted from this folder within 14 days.",
            "Beyond that, restore from the Microsoft 365 backup.",
        ),
    ),
    ArticleSeed(
        "Set an out-of-office reply for another user",
        ("email-outlook",),
        (
            "Get approval from the user's manager.",
            "In Exchange admin, open the mailbox and set automatic replies.",
            "Note the end date in the ticket so it is removed on time.",
        ),
    ),
    ArticleSeed(
        "Site offline: first-response checklist",
        ("network-outage",),
        (
            "Check the firewall and line status in the monitoring dashboard.",
            "Call the site contact to confirm power and what they see.",
            "Log a fault with the carrier if the line is down; update the client every hour.",
        ),
    ),
    ArticleSeed(
        "Backup job failed: triage and retry",
        ("backup-failure",),
        (
            "Read the job log for the first error, not the last.",
            "Check repository space and VSS writer state.",
            "Retry the job and confirm a restore point exists.",
        ),
    ),
    ArticleSeed(
        "Restore a file from backup",
        ("backup-failure", "email-outlook"),
        (
            "Confirm the path and the last time the file was good.",
            "Restore to an alternate location first.",
            "Let the user check the file before overwriting anything.",
        ),
    ),
    ArticleSeed(
        "New starter checklist",
        ("new-user-onboarding",),
        (
            "Create the account from the client's template user.",
            "Assign licences and group memberships from the role matrix.",
            "Build the laptop with Autopilot and test sign-in before delivery.",
        ),
    ),
    ArticleSeed(
        "Build and ship a laptop with Autopilot",
        ("new-user-onboarding", "hardware-fault"),
        (
            "Register the hardware hash with the client's tenant.",
            "Assign the deployment profile and the user.",
            "Ship sealed; the user signs in and the build completes.",
        ),
    ),
    ArticleSeed(
        "Leaver checklist",
        ("user-offboarding",),
        (
            "Block sign-in and revoke sessions at the agreed time.",
            "Convert the mailbox to shared and delegate to the manager.",
            "Collect and wipe devices; remove licences.",
        ),
    ),
)
CLIENT_ARTICLES: tuple[ArticleSeed, ...] = (
    ArticleSeed(
        "{client}: VPN connection details",
        ("vpn-wifi",),
        (
            "Use the 'Office' VPN profile; the gateway is in the client documentation.",
            "Remote staff must connect before opening the practice system.",
        ),
    ),
    ArticleSeed(
        "{client}: printers by site",
        ("printing",),
        (
            "Each site has one multifunction printer mapped by Intune.",
            "Scan to e-mail uses the shared relay account.",
        ),
    ),
)

# The data problems the demo plants on purpose, for the data-hygiene report to find
# (`tickets.demo.hygiene` lists them). Everything else in the demo is kept clean.

# Ticket types no knowledge article is filed under: alerts and "other" have no write-up.
TYPES_WITHOUT_ARTICLES: tuple[str, ...] = ("monitoring-alert", "other")


@dataclass(frozen=True)
class SharedContactSeed:
    """Someone outside the clients who works for several of them, on file at each under the
    same address: intake cannot tell which client their request is for."""

    first_name: str
    last_name: str
    email: str
    job_title: str


SHARED_CONTACTS: tuple[SharedContactSeed, ...] = (
    SharedContactSeed(
        "Nadia", "Fairley", "nadia@fairley-bookkeeping.example", "Bookkeeper (external)"
    ),
    SharedContactSeed("Gareth", "Lomax", "gareth.lomax@lomax-hr.example", "HR adviser (external)"),
)
# Each shared contact is on file at this many clients.
SHARED_CONTACT_CLIENTS = 2

# How intake names the channels the planted arrivals came through (the actor of `created`).
CHANNEL_LABELS: dict[str, str] = {"email": "E-mail", "portal": "Portal", "ninjaone": "NinjaOne"}


@dataclass(frozen=True)
class IntakeGapSeed:
    """A recent arrival intake could only partly match. `unmatched` says what it could not:
    "client" (nobody's domain), "requester" (an address that is not a contact of the client
    its domain names) or "device" (a hostname the source linked that is not an asset).

    Wording may use {first}, {client} and {hostname}. `resolve_hours` is how long the fix
    took after the first reply; 0 leaves it waiting on the requester."""

    unmatched: str
    channel: str
    type: str
    priority: int
    days_ago: int
    summary: str
    description: str
    reply: str
    resolution: str = ""
    resolve_hours: float = 0.0
    # Client gaps: the address that wrote in. Requester gaps: the part before the client's
    # domain ("" for a new starter's first.last). Device gaps: the device's kind code.
    sender: str = ""


INTAKE_GAPS: tuple[IntakeGapSeed, ...] = (
    IntakeGapSeed(
        unmatched="client",
        channel="email",
        type="other",
        priority=4,
        days_ago=11,
        sender="office@newbuild-lettings.example",
        summary="Quote for IT support at our new office",
        description=(
            "Hello, we are a lettings agency opening a second office next month and were given "
            "your name. Could you quote for laptops, Wi-Fi and ongoing support?"
        ),
        reply=(
            "Hello, thanks for getting in touch. I have passed this to our account manager, "
            "who will call you to arrange a visit."
        ),
        resolution="Our account manager has arranged a site visit, so I am closing this ticket.",
        resolve_hours=5,
    ),
    IntakeGapSeed(
        unmatched="client",
        channel="email",
        type="hardware-fault",
        priority=3,
        days_ago=2,
        sender="k.doyle.home@mailbox.example",
        summary="Work laptop will not turn on",
        description=(
            "Hi, writing from my personal e-mail because my work laptop will not power on at "
            "all this morning. Can someone help?"
        ),
        reply=(
            "Hi, sorry to hear that. We could not match this address to one of our clients: "
            "which company are you with?"
        ),
    ),
    IntakeGapSeed(
        unmatched="requester",
        channel="email",
        type="group-change",
        priority=3,
        days_ago=13,
        summary="Access to the shared Finance folder",
        description=(
            "Hi, I started on Monday and cannot open the Finance folder on the shared drive. "
            "My manager said to ask you."
        ),
        reply=(
            "Hi {first}, welcome to {client}! You are not set up as a contact yet, so we have "
            "asked your office manager to confirm the access first."
        ),
        resolution="Your office manager confirmed it: you now have access to the Finance folder.",
        resolve_hours=6,
    ),
    IntakeGapSeed(
        unmatched="requester",
        channel="email",
        type="printing",
        priority=3,
        days_ago=6,
        sender="reception.cover",
        summary="Reception printer prints blank pages",
        description=(
            "The printer on reception prints blank pages since this morning. I am covering "
            "reception this week."
        ),
        reply="Thanks for letting us know. We are connecting to the printer now to check it.",
        resolution="The toner cartridge was not seated: it prints again. Thanks for reporting.",
        resolve_hours=2,
    ),
    IntakeGapSeed(
        unmatched="requester",
        channel="email",
        type="password-reset",
        priority=3,
        days_ago=1,
        summary="Cannot sign in on my first day",
        description="Hi, it is my first day and the password I was given does not work.",
        reply=(
            "Hi {first}, we need to verify you before resetting anything: could your manager "
            "reply to confirm you have joined {client}?"
        ),
    ),
    IntakeGapSeed(
        unmatched="device",
        channel="email",
        type="vpn-wifi",
        priority=3,
        days_ago=15,
        sender="LT",
        summary="New laptop {hostname} will not connect to the VPN",
        description=(
            "Hi, I have just been given a new laptop ({hostname}) and the VPN client says it "
            "is not allowed to connect."
        ),
        reply=(
            "Hi {first}, {hostname} is not enrolled with us yet, so the VPN refuses it. I am "
            "enrolling it now."
        ),
        resolution="{hostname} is enrolled and the VPN connects from it now.",
        resolve_hours=3,
    ),
    IntakeGapSeed(
        unmatched="device",
        channel="ninjaone",
        type="monitoring-alert",
        priority=3,
        days_ago=4,
        sender="SRV",
        summary="Disk space low on {hostname}",
        description="NinjaOne: volume C: on {hostname} has less than 10% free space.",
        reply="Looking at {hostname}: it is not in our asset list, checking with the client.",
        resolution="Cleared old update files on {hostname}: 38% free again.",
        resolve_hours=1.5,
    ),
)

# A reopened ticket that the knowledge-base guidance playbook had answered: the articles it
# quoted count as stale on the hygiene report, however recently they were updated.
GUIDANCE_PLAYBOOK = "vpn-wifi-guidance"
GUIDANCE_PLAYBOOK_TITLE = "VPN and Wi-Fi guidance"
GUIDANCE_TYPE = "vpn-wifi"
GUIDANCE_DAYS_AGO = 19
GUIDANCE_SUMMARY = "VPN drops when working from home"
GUIDANCE_DESCRIPTION = (
    "Since yesterday the VPN connects but the practice system will not open from home."
)
# The reply quotes the first step of each article it cites, numbered as its sources.
GUIDANCE_REPLY = (
    "Hi {first}, this should sort it:\n\n{answer}\n\nIf it doesn't, reply here and a "
    "technician will pick it up."
)
GUIDANCE_DONE = "Guidance from the knowledge base sent with its sources; waiting on the requester."
GUIDANCE_THANKS = "That did it, thank you!"
GUIDANCE_CLOSING = "Glad that sorted it, {first}: closing this one."
GUIDANCE_BACK = "It is doing it again this morning, same as before."
GUIDANCE_FIX = (
    "Your home router hands out the same subnet as the office, so the VPN could not route: "
    "I changed the VPN profile to avoid it. It should stay connected now."
)


@dataclass(frozen=True)
class PsaMappingSeed:
    """One value of the demo's ConnectWise board and what it means here: a status code, a
    priority number or a ticket type's slug ("" when nobody has mapped it yet)."""

    field: str
    external_id: str
    label: str
    value: str


# A PSA connection shown for its mapping page only: inactive, with no credentials, so nothing
# ever syncs with it (the live simulator of `make run` is a separate connection).
PSA_DEMO_NAME = "Demo ConnectWise (mapping example, not connected)"
PSA_DEMO_KIND = "connectwise"
PSA_DEMO_URL = "https://psa.northgate-it.example"
PSA_MAPPINGS: tuple[PsaMappingSeed, ...] = (
    PsaMappingSeed("status", "1:1", "New", "new"),
    PsaMappingSeed("status", "1:5", "In Progress", "in_progress"),
    PsaMappingSeed("status", "1:7", "Waiting Customer", "waiting_customer"),
    PsaMappingSeed("status", "1:12", "Completed", "resolved"),
    PsaMappingSeed("status", "1:13", "Closed", "closed"),
    PsaMappingSeed("status", "1:9", "Escalated to Vendor", ""),
    PsaMappingSeed("status", "1:15", "On Hold - Awaiting Parts", ""),
    PsaMappingSeed("priority", "7", "Priority 1 - Emergency Response", "1"),
    PsaMappingSeed("priority", "8", "Priority 2 - Quick Response", "2"),
    PsaMappingSeed("priority", "4", "Priority 3 - Normal Response", "3"),
    PsaMappingSeed("priority", "6", "Priority 4 - Schedule Maintenance", "4"),
    PsaMappingSeed("type", "3", "Password Reset", "password-reset"),
    PsaMappingSeed("type", "4", "Hardware", "hardware-fault"),
    PsaMappingSeed("type", "5", "Printer", "printing"),
    PsaMappingSeed("type", "11", "Move / Add / Change", ""),
    PsaMappingSeed("type", "12", "Quote Request", ""),
)
